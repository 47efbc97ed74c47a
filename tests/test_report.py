"""Tests for the offline HTML metrics report."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pandas as pd
import pytest
from plotly.offline import get_plotlyjs

from experiments.report import (
    CONCENTRATION_LABELS,
    ONLINE_LABELS,
    OTHER_SECTION,
    build_figures,
    build_report_html,
    write_report,
)

ARMS = ("arm_alpha", "arm_beta")  # distinctive: must not occur inside the plotly.js bundle
UNKNOWN_METRIC = "novelty_score_xyz"
ALL_LABELS = {**CONCENTRATION_LABELS, **ONLINE_LABELS}


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
    for label in ALL_LABELS.values():
        assert label in page, label
    for arm in ARMS:
        assert f'"name":"{arm}"' in page
    assert UNKNOWN_METRIC in page
    assert "<h1>Run 42</h1>" in page


def test_sections_in_order(full_html: str) -> None:
    heads = re.findall(r"<h2>(.*?)</h2>", full_html)
    assert heads == ["Popularity concentration", "Online behaviour", OTHER_SECTION]


def test_no_other_section_when_all_metrics_known() -> None:
    page = build_report_html(make_metrics(("gini", "ctr")), "t")
    assert re.findall(r"<h2>(.*?)</h2>", page) == ["Popularity concentration", "Online behaviour"]


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
    expected_counts = [len(CONCENTRATION_LABELS), len(ONLINE_LABELS), 1]
    assert [len(fig.layout.annotations) for _, fig in figures] == expected_counts
    colours: dict[str, set[str]] = {arm: set() for arm in ARMS}
    for _, fig in figures:
        legend_entries = [t.name for t in fig.data if t.showlegend]
        assert sorted(legend_entries) == sorted(ARMS)  # each arm once per figure
        for trace in fig.data:
            colours[trace.name].add(trace.line.color)
    assert all(len(c) == 1 for c in colours.values())
    assert colours[ARMS[0]] != colours[ARMS[1]]


def test_lines_follow_day_order_even_if_input_shuffled() -> None:
    frame = make_metrics(("gini",), arms=("solo",)).sample(frac=1.0, random_state=0)
    [(_, fig)] = build_figures(frame)
    (trace,) = fig.data
    assert list(trace.x) == [0, 1, 2, 3, 4]
    assert list(trace.y) == [0.0, 1.0, 2.0, 3.0, 4.0]


@pytest.mark.parametrize("dropped", [["value"], ["arm", "metric"]])
def test_missing_columns_raise(dropped: list[str]) -> None:
    frame = make_metrics(("gini",)).drop(columns=dropped)
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
        make_metrics(("gini",)), "A <i>title</i>", {"<key>": "<b>x</b>", "policy": "a & b"}
    )
    assert "&lt;b&gt;x&lt;/b&gt;" in page
    assert "<b>x</b>" not in page
    assert "&lt;key&gt;" in page
    assert "a &amp; b" in page
    assert "<h1>A &lt;i&gt;title&lt;/i&gt;</h1>" in page


def test_write_report_creates_dirs_and_leaves_only_target(tmp_path: Path) -> None:
    target = tmp_path / "runs" / "r1" / "report.html"
    out = write_report(make_metrics(("gini",)), target, "first")
    assert out == target
    assert os.listdir(target.parent) == ["report.html"]
    assert target.stat().st_size > 0
    assert "<h1>first</h1>" in target.read_text(encoding="utf-8")


def test_write_report_replaces_existing_file(tmp_path: Path) -> None:
    target = tmp_path / "report.html"
    target.write_text("STALE-REPORT-MARKER", encoding="utf-8")
    write_report(make_metrics(("ctr",)), target, "second")
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
        write_report(make_metrics(("gini",)), target, "new")
    assert target.read_text(encoding="utf-8") == "previous report"
    assert os.listdir(tmp_path) == ["report.html"]
