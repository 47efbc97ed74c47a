"""The reports' story: headline numbers, panels left out, percentages, reference lines and
where plotly.js comes from; all on hand-made metric tables with known answers."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from plotly.offline import get_plotlyjs

from recloop.experiments.aggregate import combined_metrics, final_means
from recloop.experiments.headline import (
    arm_story,
    run_headline_html,
    sweep_headline_html,
    sweep_stories,
)
from recloop.experiments.panels import not_shown_html, split_panels
from recloop.experiments.parameters import parameter_figure, reference_levels
from recloop.experiments.plotlyjs import PLOTLYJS_FILE, SHARED, write_plotlyjs
from recloop.experiments.report import build_report_html, build_sections
from recloop.experiments.report_cli import render
from recloop.experiments.runs import Run, assign_variants
from recloop.experiments.style import format_value, metric_label, percent_tickformat
from recloop.sim.metrics.catalogue import (
    CATALOGUE,
    CTR,
    ESTIMATORS,
    GINI,
    GRAVEYARD_EVER,
    ORACLE_GAP,
    OUTAGE,
    TOP1_SHARE,
)

DAYS = 15


def story_frame(arm: str = "main", top1: tuple[float, float] = (0.05, 0.22),
                ctr_late: float = 0.075) -> pd.DataFrame:
    """One arm over DAYS days: top-1% share rising linearly, CTR 0.5 on the days before the
    last ten (which the headline must not average in), 122 items never shown at the end."""
    rows = []
    for day in range(DAYS):
        late = day >= DAYS - 10
        rows += [
            (day, arm, TOP1_SHARE, top1[0] + (top1[1] - top1[0]) * day / (DAYS - 1)),
            (day, arm, CTR, ctr_late if late else 0.5),
            (day, arm, GRAVEYARD_EVER, 200 - 78 * day / (DAYS - 1)),
            (day, arm, ORACLE_GAP, 0.54 if late else -1.0),
            (day, arm, GINI, 0.3 + 0.01 * day),
        ]
    return pd.DataFrame(rows, columns=["day", "arm", "metric", "value"])


def test_run_headline_states_the_story_in_numbers() -> None:
    text = run_headline_html(story_frame(), "als")
    assert "rose from 5.0% (day 0) to 22.0% (day 14)" in text
    assert "122 top-decile items (by true value) were never shown" in text
    assert "CTR 7.5% (days 5–14)" in text  # last ten days only
    assert "als closed 54% of the random→oracle welfare gap" in text


def test_run_headline_per_arm_and_silent_without_concentration() -> None:
    both = pd.concat([story_frame("control"), story_frame("treatment", (0.05, 0.03))])
    text = run_headline_html(both, "als")
    assert text.count('<p class="headline">') == 2
    assert "control: Top-1%" in text and "treatment: Top-1%" in text and "fell from" in text
    assert run_headline_html(story_frame().query("metric != @TOP1_SHARE")) == ""


def test_sweep_headline_names_best_and_worst() -> None:
    frames = []
    for variant, top1, ctr in (("a", (0.02, 0.02), 0.04), ("b", (0.02, 0.30), 0.06),
                               ("c", (0.02, 0.10), 0.08)):
        for seed in (0, 1):
            frames.append(story_frame(variant, top1, ctr + 0.01 * seed).assign(
                run=f"{variant}{seed}"))
    stories = sweep_stories(pd.concat(frames), ["a", "b", "c"])
    assert stories["c"]["ctr"] == pytest.approx(0.085)  # mean over the two seeds
    text = sweep_headline_html(stories)
    assert "Best CTR: c (8.5%); worst: a (4.5%)." in text
    assert "Most concentrated (top-1% share, last day): b (30.0%); least: a (2.0%)." in text
    assert "held steady: 2.0% (day 0), 2.0% (day 14)" in text


def test_arm_story_is_none_for_rows_that_serve_nobody() -> None:
    srm = pd.DataFrame({"day": [0, 1], "metric": ["srm_p_value"] * 2, "value": [0.5, 0.4]})
    assert arm_story(srm) is None


def test_constant_and_empty_metrics_are_listed_not_charted() -> None:
    frame = story_frame()
    extra = [(d, "main", OUTAGE, 0.0) for d in range(DAYS)]
    extra += [(d, "main", f"{est}_ctr_candidate", np.nan) for est in ESTIMATORS for d in range(3)]
    extra += [(d, "main", "gate_passed", np.nan if d == 0 else 1.0) for d in range(DAYS)]
    frame = pd.concat([frame, pd.DataFrame(extra, columns=frame.columns)])
    kept, dropped = split_panels(frame)
    assert set(kept["metric"]) == {TOP1_SHARE, CTR, GRAVEYARD_EVER, ORACLE_GAP, GINI}
    line = not_shown_html(dropped)
    assert f"{metric_label(OUTAGE)} (0.0% throughout)" in line
    assert "Quality gate passed (1 = yes) (1 throughout)" in line
    assert "off-policy CTR estimates (IPS, SNIPS, cascade IPS" in line
    assert "ips_ctr" not in line and "outage_time_share" not in line  # labels, not names
    assert line.count("<p") == 1
    figures, _ = build_sections(frame)
    titles = {a.text for _, fig in figures for a in fig.layout.annotations}
    assert metric_label(OUTAGE) not in titles and metric_label(GINI) in titles


def test_a_single_value_is_not_called_constant() -> None:
    one_day = story_frame().query("day == 0")
    kept, dropped = split_panels(one_day)
    assert not dropped and len(kept) == len(one_day)


def test_page_lists_dropped_panels_under_the_headline() -> None:
    frame = pd.concat([story_frame(), pd.DataFrame(
        [(d, "main", OUTAGE, 0.0) for d in range(DAYS)], columns=["day", "arm", "metric",
                                                                  "value"])])
    page = build_report_html(frame, "t", {"policy": "als"}).replace(get_plotlyjs(), "")
    assert page.index('class="headline"') < page.index("Not shown (constant or empty in this run)")
    assert page.index("Not shown") < page.index("<h2>")


@pytest.mark.parametrize(("values", "fmt"), [
    ([0.2, 1.0], ".0%"), ([0.04, 0.05], ".1%"), ([0.018, 0.0202], ".2%"), ([0.5, 0.5], ".1%"),
])
def test_percent_ticks_have_enough_decimals_to_differ(values: list[float], fmt: str) -> None:
    assert percent_tickformat(values) == fmt


def test_cells_are_percent_for_shares_and_rates_only() -> None:
    assert format_value(CTR, 0.0749) == "7.5%"
    assert format_value(TOP1_SHARE, 0.004) == "0.40%"
    assert format_value(GINI, 0.51234) == "0.512"
    assert format_value(CTR, float("nan")) == "–"
    for metric in CATALOGUE.metrics.values():  # no share is left to SI prefixes (µ, m)
        if metric.unit in ("share", "rate"):
            assert format_value(metric.name, 2e-6).endswith("%")


def policy_run(policy: str, seed: str, ctr: float) -> Run:
    rows = [{"day": d, "arm": "main", "metric": CTR, "value": ctr} for d in range(3)]
    counts = np.ones(10, dtype=np.int64)
    return Run(Path(f"{policy}{seed}"), {"policy": policy, "seed": seed},
               {"policy": policy, "seed": seed}, pd.DataFrame(rows), pd.DataFrame(), 10,
               counts, counts)


def test_random_and_oracle_are_dashed_labelled_reference_lines() -> None:
    runs = [policy_run(p, s, c + 0.01 * int(s)) for p, c in
            (("random", 0.04), ("oracle", 0.09), ("als", 0.06)) for s in ("0", "1")]
    keys = assign_variants(runs)
    per_run = final_means(combined_metrics(runs))
    levels = reference_levels(per_run, runs)
    assert levels["random"][CTR] == pytest.approx(0.045)
    fig = parameter_figure(per_run, runs, "policy", [k for k in keys if k != "policy"])
    lines = {round(s.y0, 6): s.line.dash for s in fig.layout.shapes}
    assert lines == {0.045: "dash", 0.095: "dash"}
    assert {"random", "oracle"} <= {a.text for a in fig.layout.annotations}
    no_refs = [r for r in runs if r.summary["policy"] == "als"]
    assert not parameter_figure(final_means(combined_metrics(no_refs)), no_refs, "seed",
                                []).layout.shapes


def test_shared_plotlyjs_is_loaded_from_beside_the_page(tmp_path: Path) -> None:
    from recloop.experiments.report import build_figures

    blocks = [(title, "", fig) for title, fig in build_figures(story_frame())]
    page = render(blocks, "t", {}, [], plotlyjs=SHARED)
    assert get_plotlyjs() not in page
    assert len(re.findall(rf"<script[^>]*\bsrc=\"{PLOTLYJS_FILE}\"", page)) == 1
    target = write_plotlyjs(tmp_path)
    stamp = target.stat().st_mtime_ns
    assert target.read_text(encoding="utf-8") == get_plotlyjs()
    assert write_plotlyjs(tmp_path).stat().st_mtime_ns == stamp  # written once, then kept


def test_small_moves_hold_steady_and_no_negative_zero() -> None:
    from recloop.experiments.headline import story_text

    story = {"first_day": 0, "last_day": 29, "top1_first": 0.018, "top1_last": 0.019,
             "never_shown": 0.0, "ctr": 0.04, "gap": -0.003, "recent_from": 20}
    text = story_text(story, "random")
    assert "held steady: 1.8% (day 0), 1.9% (day 29)" in text
    assert "random closed 0% of" in text and "-0%" not in text
