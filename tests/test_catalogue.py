"""The metric catalogue against what a run writes and what the run report draws."""

from __future__ import annotations

import html
import re
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from recloop.experiments.report import build_report_html
from recloop.sim.config import RunConfig
from recloop.sim.metrics.abtest import AB_ROWS
from recloop.sim.metrics.catalogue import CATALOGUE
from recloop.sim.metrics.churn import CHURN_ROWS, HOLDOUT_ROWS, MONITOR_ROWS
from recloop.sim.metrics.metric import AB, ARM, CHURN, HOLDOUT, MONITOR, SHADOW
from recloop.sim.shadow import SHADOW as SHADOW_ARM
from recloop.sim.story import simulate

# every kind of row: two serving arms, the A/B test's row, a shadow, the ε controller
EVERY_ROW = ("days=3", "policy=popular", "policy@ab.treatment=popular", "ab.share=0.5",
             "policy@shadow=popular", "policy.epsilon=0.1", "ab.treatment.epsilon=0.1",
             "controller.adaptive_epsilon=true")
# the churn dashboard and the monitors (a holdout excludes an A/B test): a second run, whose
# concentration alarm goes up once popular has a model (so the monitors' section has a chart)
CHURN_ROWS_ON = ("days=3", "policy=popular", "churn_model.enabled=true",
                 "churn_model.label_days=1", "churn_model.min_train_dates=1",
                 "churn_model.holdout_share=0.2", "churn_model.monitors.top1_threshold=0.05",
                 "churn_model.monitors.alarm_days=1")
ROW_KIND = {AB_ROWS: AB, SHADOW_ARM: SHADOW, CHURN_ROWS: CHURN, HOLDOUT_ROWS: HOLDOUT,
            MONITOR_ROWS: MONITOR}
# any other arm label is a serving arm's row


@pytest.fixture
def metrics(small_config: Callable[..., RunConfig], tmp_path: Path) -> pd.DataFrame:
    """The metrics tables of two short runs that between them have every kind of row."""
    return pd.concat([simulate(small_config(*rows), tmp_path / str(i)).metrics
                      for i, rows in enumerate((EVERY_ROW, CHURN_ROWS_ON))], ignore_index=True)


def test_a_run_writes_declared_metrics_on_the_rows_that_declare_them(
    metrics: pd.DataFrame,
) -> None:
    kinds = metrics["arm"].map(lambda arm: ROW_KIND.get(arm, ARM))
    written = set(zip(kinds, metrics["metric"], strict=True))
    assert {kind for kind, _ in written} == {ARM, AB, SHADOW, CHURN, HOLDOUT, MONITOR}
    undeclared = sorted({m for _, m in written if m not in CATALOGUE})
    assert not undeclared, f"written but not declared: {undeclared}"
    declared = {(kind, m.name) for m in CATALOGUE.metrics.values() for kind in m.rows}
    assert sorted(written - declared) == [], "carried by a row that does not declare it"
    assert sorted(declared - written) == [], "declared for a row that does not carry it"


def test_every_section_has_a_metric_and_every_label_is_unique() -> None:
    for section in CATALOGUE.sections:
        assert any(CATALOGUE.in_section(section)), f"empty section {section!r}"
    labels = Counter(m.label for m in CATALOGUE.metrics.values())
    assert [label for label, n in labels.items() if n > 1] == []


def test_every_standard_error_belongs_to_a_metric_drawn_beside_it() -> None:
    for metric in CATALOGUE.metrics.values():
        if metric.se_of is None:
            continue
        assert metric.se_of in CATALOGUE, f"{metric.name}: no metric {metric.se_of!r}"
        of = CATALOGUE[metric.se_of]
        assert of.se_of is None, f"{metric.name}: the error of an error"
        assert (of.section, of.rows, of.unit) == (metric.section, metric.rows, metric.unit)


def test_the_run_report_has_the_catalogue_sections_in_order(metrics: pd.DataFrame) -> None:
    page = build_report_html(metrics, "every row")
    assert re.findall(r"<h2>(.*?)</h2>", page) == [html.escape(s) for s in CATALOGUE.sections]
