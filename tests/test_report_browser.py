"""Reports opened in a real (headless) Chromium: no console error, every figure drawn.

A page can be valid HTML and still show blank boxes (plotly.js not found beside a sweep
report, a figure the browser rejects); only a browser sees that. Skipped, with the reason,
where Chromium, chromedriver or selenium is missing (.ci/run installs them when it can).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import entry_point, recloop

from recloop.experiments.browser import browser_missing, check_page
from recloop.experiments.plotlyjs import PLOTLYJS_FILE

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(browser_missing() is not None, reason=str(browser_missing())),
]
SMALL = ["users=small", "catalog=small", "days=3", "progress=false"]


@pytest.fixture(scope="module")
def sweep(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A two-policy sweep with its cross-run report beside the runs' own reports."""
    cwd = tmp_path_factory.mktemp("browser")
    done = recloop(["-m", "policy=random,popular", *SMALL], cwd)
    assert done.returncode == 0, done.stderr
    (root,) = (cwd / "multirun").glob("*/*")
    done = entry_point("recloop.experiments.report_cli:main", [str(root)], cwd)
    assert done.returncode == 0, done.stderr
    return root


def test_single_run_report_renders_without_errors(sweep: Path, tmp_path: Path) -> None:
    run_dir = next(sweep.glob("1_*"))
    page = tmp_path / "alone" / "report.html"  # copied alone: it must need nothing beside it
    page.parent.mkdir()
    shutil.copy(run_dir / "report.html", page)
    check = check_page(page)
    assert check.errors == []
    assert check.figures >= 4 and check.rendered == check.figures


def test_sweep_report_renders_without_errors(sweep: Path) -> None:
    assert (sweep / PLOTLYJS_FILE).is_file()
    check = check_page(sweep / "report.html")
    assert check.errors == []
    assert check.figures >= 6 and check.rendered == check.figures


def test_a_missing_plotlyjs_is_caught(sweep: Path, tmp_path: Path) -> None:
    """The check itself can fail: a sweep page without its plotly.min.js draws nothing."""
    page = tmp_path / "report.html"
    shutil.copy(sweep / "report.html", page)
    check = check_page(page)
    assert check.errors and check.rendered == 0 < check.figures
