"""Tests for the offline HTML metrics report and the cross-run helpers behind it."""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from plotly.offline import get_plotlyjs

from recloop.experiments.aggregate import combined_metrics, final_means, seed_bands, seed_stats
from recloop.experiments.lorenz import lorenz_curve, lorenz_gini, mean_lorenz
from recloop.experiments.parameters import parameter_figure, summary_table
from recloop.experiments.report import (
    OTHER_SECTION,
    build_figures,
    build_report_html,
    write_report,
)
from recloop.experiments.runs import (
    Run,
    assign_variants,
    natural_key,
    parse_overrides,
    swept_keys,
    variant_label,
    variant_order,
)
from recloop.sim.metrics.catalogue import (
    CATALOGUE,
    CONCENTRATION,
    CTR,
    ENTROPY,
    GINI,
    IMPRESSIONS,
    ONLINE,
    SE,
    TOP1_SHARE,
    UTILITY,
)
from recloop.sim.metrics.concentration import gini

ARMS = ("arm_alpha", "arm_beta")  # distinctive: must not occur inside the plotly.js bundle
UNKNOWN_METRIC = "novelty_score_xyz"
SECTION_LABELS = {s: {m.name: m.label for m in CATALOGUE.in_section(s)}
                  for s in (CONCENTRATION, ONLINE)}
ALL_LABELS = {**SECTION_LABELS[CONCENTRATION], **SECTION_LABELS[ONLINE]}


@pytest.fixture(scope="module")
def plotlyjs() -> str:
    """The exact bundle plotly inlines, so tests can look at the page around it."""
    return get_plotlyjs()


def make_metrics(
    metrics: tuple[str, ...], arms: tuple[str, ...] = ARMS, days: int = 5
) -> pd.DataFrame:
    """Tidy frame with one row per (day, arm, metric) and distinct values."""
    rows = [
        {"day": d, "arm": a, "metric": m, "value": float(d + 10 * i + 100 * j)}
        for i, a in enumerate(arms)
        for j, m in enumerate(metrics)
        for d in range(days)
    ]
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def full_frame() -> pd.DataFrame:
    """Every known metric plus one the report has never heard of."""
    return make_metrics((*ALL_LABELS, UNKNOWN_METRIC))


@pytest.fixture(scope="module")
def full_html(full_frame: pd.DataFrame) -> str:
    """Built once per module: the inlined bundle makes each page ~5 MB."""
    return build_report_html(full_frame, "Run 42", {"policy": "popularity", "seed": "7"})


def test_page_has_labels_arms_and_unknown_metric(full_html: str, plotlyjs: str) -> None:
    # Strip the bundle so matches can only come from our own markup and figure JSON.
    page = full_html.replace(plotlyjs, "")
    titles = page.replace("\\u003cbr\\u003e", " ")  # long titles wrap over lines
    for label in ALL_LABELS.values():
        assert label in titles, label
    for arm in ARMS:
        assert f'"name":"{arm}"' in page
    assert "Novelty score xyz" in page and UNKNOWN_METRIC not in page  # words, not snake_case
    assert "<h1>Run 42</h1>" in page


def test_sections_in_order(full_html: str) -> None:
    heads = re.findall(r"<h2>(.*?)</h2>", full_html)
    assert heads == [CONCENTRATION, ONLINE, OTHER_SECTION]


def test_no_other_section_when_all_metrics_known() -> None:
    page = build_report_html(make_metrics((GINI, CTR)), "t")
    assert re.findall(r"<h2>(.*?)</h2>", page) == [CONCENTRATION, ONLINE]


def test_plotlyjs_inlined_once_and_nothing_fetched(full_html: str, plotlyjs: str) -> None:
    assert full_html.count(plotlyjs) == 1
    assert "plotly.js v" in full_html
    assert not re.search(r"<script[^>]*\bsrc\s*=", full_html, flags=re.IGNORECASE)
    assert 'src="http' not in full_html
    # The bundle itself mentions cdn.plot.ly (topojson default); nothing else may.
    assert "cdn.plot.ly" not in full_html.replace(plotlyjs, "")
    assert "mathjax" not in full_html.replace(plotlyjs, "").lower().replace("mathjaxconfig", "")


def test_one_subplot_per_metric_and_consistent_arm_colours(full_frame: pd.DataFrame) -> None:
    figures = build_figures(full_frame)
    expected_counts = [len(SECTION_LABELS[CONCENTRATION]), len(SECTION_LABELS[ONLINE]), 1]
    assert [len(fig.layout.annotations) for _, fig in figures] == expected_counts
    colours: dict[str, set[str]] = {arm: set() for arm in ARMS}
    for _, fig in figures:
        legend_entries = [t.name for t in fig.data if t.showlegend]
        assert sorted(legend_entries) == sorted(ARMS)  # each arm once per figure
        for trace in fig.data:
            colours[trace.name].add(trace.line.color)
    assert all(len(c) == 1 for c in colours.values())
    assert colours[ARMS[0]] != colours[ARMS[1]]


def test_axes_follow_the_catalogue_units() -> None:
    """Shares read as percentages, fractions never get SI prefixes (5m, 2µ), counts may
    (12k), and a unit the label needs is the axis title."""
    frame = make_metrics((TOP1_SHARE, ENTROPY, CTR, IMPRESSIONS), arms=("solo",))
    axes = {}
    for _, fig in build_figures(frame):
        for i, title in enumerate(fig.layout.annotations):
            axes[title.text] = fig.layout["yaxis" if i == 0 else f"yaxis{i + 1}"]
    share, bits, rate, count = (axes[CATALOGUE[m].label]
                                for m in (TOP1_SHARE, ENTROPY, CTR, IMPRESSIONS))
    assert share.tickformat.endswith("%") and share.hoverformat.endswith("%")
    assert bits.title.text == "bits" and bits.exponentformat == "none"
    assert rate.tickformat.endswith("%") and rate.title.text is None  # CTR 7.5%, not 0.075
    assert count.exponentformat is None and count.tickformat is None


def test_an_older_runs_undeclared_standard_error_is_still_a_band() -> None:
    frame = make_metrics(("novelty", "novelty" + SE), arms=("solo",))
    [(section, fig)] = build_figures(frame)
    assert section == OTHER_SECTION
    assert [t.fill for t in fig.data] == ["toself", None]


def test_lines_follow_day_order_even_if_input_shuffled() -> None:
    frame = make_metrics((GINI,), arms=("solo",)).sample(frac=1.0, random_state=0)
    [(_, fig)] = build_figures(frame)
    (trace,) = fig.data
    assert list(trace.x) == [0, 1, 2, 3, 4]
    assert list(trace.y) == [0.0, 1.0, 2.0, 3.0, 4.0]


@pytest.mark.parametrize("dropped", [["value"], ["arm", "metric"]])
def test_missing_columns_raise(dropped: list[str]) -> None:
    frame = make_metrics((GINI,)).drop(columns=dropped)
    with pytest.raises(ValueError) as excinfo:
        build_report_html(frame, "t")
    for col in dropped:
        assert col in str(excinfo.value)


def test_empty_frame_gives_no_data_page() -> None:
    empty = pd.DataFrame(columns=["day", "arm", "metric", "value"])
    page = build_report_html(empty, "Empty run", {"seed": "1"})
    assert "No data" in page
    assert "<h1>Empty run</h1>" in page
    assert "<h2>" not in page


def test_details_and_title_are_escaped() -> None:
    page = build_report_html(
        make_metrics((GINI,)), "A <i>title</i>", {"<key>": "<b>x</b>", "policy": "a & b"}
    )
    assert "&lt;b&gt;x&lt;/b&gt;" in page
    assert "<b>x</b>" not in page
    assert "&lt;key&gt;" in page
    assert "a &amp; b" in page
    assert "<h1>A &lt;i&gt;title&lt;/i&gt;</h1>" in page


def test_write_report_creates_dirs_and_leaves_only_target(tmp_path: Path) -> None:
    target = tmp_path / "runs" / "r1" / "report.html"
    out = write_report(make_metrics((GINI,)), target, "first")
    assert out == target
    assert os.listdir(target.parent) == ["report.html"]
    assert target.stat().st_size > 0
    assert "<h1>first</h1>" in target.read_text(encoding="utf-8")


def test_write_report_replaces_existing_file(tmp_path: Path) -> None:
    target = tmp_path / "report.html"
    target.write_text("STALE-REPORT-MARKER", encoding="utf-8")
    write_report(make_metrics((CTR,)), target, "second")
    text = target.read_text(encoding="utf-8")
    assert "STALE-REPORT-MARKER" not in text
    assert "<h1>second</h1>" in text
    assert os.listdir(tmp_path) == ["report.html"]


def test_failed_write_keeps_old_report_and_no_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "report.html"
    target.write_text("previous report", encoding="utf-8")

    def boom(src: str, dst: str) -> None:
        raise OSError("simulated crash before rename")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="simulated crash"):
        write_report(make_metrics((GINI,)), target, "new")
    assert target.read_text(encoding="utf-8") == "previous report"
    assert os.listdir(tmp_path) == ["report.html"]


# --- cross-run helpers (experiments.runs, experiments.report_cli) -------------------------


def fake_run(overrides: dict[str, str], values: dict[str, list[float]], name: str) -> Run:
    """A run with hand-made metrics (one value per day) and a flat exposure."""
    rows = [
        {"day": d, "arm": "main", "metric": m, "value": v}
        for m, series in values.items()
        for d, v in enumerate(series)
    ]
    counts = np.ones(10, dtype=np.int64)
    summary: dict[str, object] = {"policy": "als", "seed": overrides.get("seed", "0")}
    return Run(Path(name), summary, overrides, pd.DataFrame(rows), pd.DataFrame(), 10,
               counts, counts)


def test_overrides_parse_and_only_varying_keys_make_variants() -> None:
    lines = ["policy=als", "+policy.epsilon=0.1", "seed=3", "users=small", "x=[1,2]"]
    assert parse_overrides(lines) == {
        "policy": "als", "policy.epsilon": "0.1", "seed": "3", "users": "small", "x": "[1,2]"
    }
    runs = [
        fake_run({"policy": "als", "policy.epsilon": e, "seed": s, "users": "small"}, {}, e + s)
        for e in ("0.1", "1", "0.05")
        for s in ("0", "1")
    ]
    keys = assign_variants(runs)
    assert keys == ["policy.epsilon"]
    assert runs[0].variant == "policy.epsilon=0.1"
    assert variant_order(runs, keys) == [f"policy.epsilon={e}" for e in ("0.05", "0.1", "1")]


def test_absent_override_is_its_own_variant_and_seed_only_sweep_uses_policy() -> None:
    overrides = [{"seed": "0"}, {"seed": "0", "policy.epsilon": "0.1"}]
    assert swept_keys(overrides) == ["policy.epsilon"]
    assert variant_label(overrides[0], ["policy.epsilon"], "x") == "policy.epsilon=default"
    runs = [fake_run({"seed": s}, {}, s) for s in "012"]
    assert assign_variants(runs) == []
    assert {r.variant for r in runs} == {"als"}


def test_hydra_job_numbers_sort_naturally() -> None:
    paths = [Path(f"m/{n}_als_seed0") for n in (10, 9, 1)]
    assert sorted(paths, key=natural_key) == [Path(f"m/{n}_als_seed0") for n in (1, 9, 10)]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 50), min_size=1, max_size=60))
def test_lorenz_area_gives_the_concentration_gini(counts: list[int]) -> None:
    x, y = lorenz_curve(np.array(counts))
    assert x[0] == y[0] == 0.0 and x[-1] == pytest.approx(1.0) and y[-1] == pytest.approx(1.0)
    assert np.all(np.diff(y) >= -1e-12)
    assert lorenz_gini(x, y) == pytest.approx(gini(np.array(counts)), abs=1e-9)


def test_mean_lorenz_gini_is_mean_of_seed_ginis() -> None:
    a, b = np.array([0, 0, 1, 9]), np.array([1, 1, 1, 1])
    x, y = mean_lorenz([lorenz_curve(a), lorenz_curve(b)])
    assert lorenz_gini(x, y) == pytest.approx((gini(a) + gini(b)) / 2)


def test_seed_aggregation_numbers() -> None:
    runs = [
        fake_run({"policy": p, "seed": s}, {CTR: v, GINI: [0.5] * 3}, f"{p}{s}")
        for p, s, v in [("a", "0", [1.0, 2.0, 3.0]), ("a", "1", [3.0, 4.0, 7.0]),
                        ("b", "0", [0.0, 0.0, 0.0])]
    ]
    assign_variants(runs)
    combined = combined_metrics(runs)
    bands = seed_bands(combined).set_index(["arm", "metric", "day"])
    assert bands.loc[("policy=a", CTR, 2)].tolist() == [5.0, 3.0, 7.0]  # mean, lo, hi
    per_run = final_means(combined, [CTR], days=2)  # days 1 and 2
    assert sorted(per_run["value"]) == [0.0, 2.5, 5.5]
    stats = seed_stats(per_run, ["variant"]).set_index("variant")
    assert stats.loc["policy=a", "mean"] == pytest.approx(4.0)
    assert stats.loc["policy=a", "se"] == pytest.approx(np.std([2.5, 5.5], ddof=1) / np.sqrt(2))
    assert stats.loc["policy=a", "n"] == 2 and np.isnan(stats.loc["policy=b", "se"])
    table = summary_table(stats.reset_index(), ["policy=a", "policy=b"])
    assert "<td>400.0% ± 150.0%</td>" in table and "<td>0.0%</td>" in table  # CTR: a rate


def test_bands_drawn_only_where_seeds_disagree() -> None:
    frame = make_metrics((GINI, CTR), arms=("solo",)).assign(lo=lambda f: f.value)
    frame["hi"] = np.where(frame.metric == GINI, frame.value + 1, frame.value)
    [(_, concentration), (_, online)] = build_figures(frame, legend_title="variant")
    assert [t.fill for t in concentration.data] == ["toself", None]
    assert [t.fill for t in online.data] == [None]
    assert concentration.layout.legend.title.text == "variant"


def test_numeric_parameter_axis_with_a_line_per_other_parameter() -> None:
    runs = [
        fake_run({"eps": e, "serving": sv, "seed": s}, {CTR: [float(e) + s2]}, f"{e}{sv}{s}")
        for e in ("0.1", "0.05")
        for sv in ("batch", "realtime")
        for s, s2 in (("0", 0.0), ("1", 1.0))
    ]
    keys = assign_variants(runs)
    per_run = final_means(combined_metrics(runs))
    fig = parameter_figure(per_run, runs, "eps", [k for k in keys if k != "eps"])
    assert [t.name for t in fig.data] == ["serving=batch", "serving=realtime"]
    assert list(fig.data[0].x) == [0.05, 0.1]
    assert list(fig.data[0].y) == pytest.approx([0.55, 0.6])
    assert list(fig.data[0].error_y.array) == pytest.approx([0.5, 0.5])
    assert fig.layout.xaxis.type == "linear"


def test_divergence_tau_and_ranks_on_a_hand_made_sweep() -> None:
    from recloop.experiments import divergence as dv

    rows = []
    # three variants, two seeds: offline order a > b > c; CTR order c > b > a (reversed);
    # utility order a > b > c (same)
    spec = {"a": (0.9, 0.01, 3.0), "b": (0.5, 0.02, 2.0), "c": (0.1, 0.03, 1.0)}
    for variant, (ndcg, ctr, util) in spec.items():
        for seed in (0, 1):
            run = f"{variant}{seed}"
            for day in range(12):
                rows += [(run, variant, day, dv.OFFLINE, ndcg),
                         (run, variant, day, CTR, ctr), (run, variant, day, UTILITY, util)]
    frame = pd.DataFrame(rows, columns=["run", "variant", "day", "metric", "value"])
    frame = frame.assign(arm=frame["variant"], arm_name="main")  # as combined_metrics gives it
    table = dv.divergence_table(frame)
    taus = dv.kendall(table)
    assert taus[CTR] == pytest.approx(-1.0) and taus[UTILITY] == pytest.approx(1.0)
    page = dv.divergence_html(table, ["a", "b", "c"])
    assert "0.9 (#1)" in page and "Kendall τ vs offline" in page


def test_standard_errors_become_95_percent_bands_not_lines() -> None:
    from recloop.experiments.report import with_intervals

    frame = pd.DataFrame({
        "day": [0, 0, 0, 1], "arm": ["a", "a", "a", "a"],
        "metric": [CTR, CTR + SE, GINI, CTR], "value": [0.1, 0.01, 0.5, 0.2],
    })
    out = with_intervals(frame).set_index(["day", "metric"])
    assert CTR + SE not in set(out.index.get_level_values("metric"))
    assert out.at[(0, CTR), "lo"] == pytest.approx(0.1 - 1.96 * 0.01)
    assert out.at[(0, CTR), "hi"] == pytest.approx(0.1 + 1.96 * 0.01)
    assert np.isnan(out.at[(0, GINI), "lo"]) and np.isnan(out.at[(1, CTR), "hi"])


def test_tradeoff_curve_joins_numeric_values_in_order_and_skips_categories() -> None:
    from types import SimpleNamespace

    from recloop.experiments.tradeoff import tradeoff_figure

    rows, runs = [], []
    for eps, top1, ctr in ((0.2, 0.10, 0.05), (0.0, 0.30, 0.07), (0.05, 0.20, 0.06)):
        for seed in (0, 1):
            path = f"run-{eps}-{seed}"
            runs.append(SimpleNamespace(path=path, overrides={"policy.epsilon": str(eps)}))
            rows += [(path, f"eps={eps}", "main", TOP1_SHARE, top1 + 0.01 * seed),
                     (path, f"eps={eps}", "main", GINI, 3 * top1),
                     (path, f"eps={eps}", "main", CTR, ctr)]
    per_run = pd.DataFrame(rows, columns=["run", "variant", "arm_name", "metric", "value"])
    fig = tradeoff_figure(per_run, runs, "policy.epsilon", [])
    gini, top1 = fig.data
    assert list(gini.x) == pytest.approx([0.9, 0.6, 0.3])  # ε = 0, 0.05, 0.2
    assert list(top1.x) == pytest.approx([0.305, 0.205, 0.105])
    assert list(top1.y) == pytest.approx([0.07, 0.06, 0.05])
    assert list(top1.text) == ["policy.epsilon=0.0", "policy.epsilon=0.05", "policy.epsilon=0.2"]
    assert list(top1.error_x.array) == pytest.approx([0.005] * 3)
    for run in runs:
        run.overrides = {"policy": "als"}
    assert tradeoff_figure(per_run, runs, "policy", []) is None
