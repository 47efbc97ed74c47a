"""``recloop-report`` end to end: real runs from the real CLI, then the cross-run page."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pandas as pd
import pytest
from conftest import entry_point, recloop
from plotly.offline import get_plotlyjs

from recloop.experiments import runs as rl
from recloop.experiments.plotlyjs import PLOTLYJS_FILE
from recloop.sim.metrics.catalogue import CONCENTRATION, IMPRESSIONS

SMALL = ["users=small", "catalog=small", "days=3", "progress=false"]
VARIANTS = ("policy=random", "policy=popular")
SCRIPT = "recloop.experiments.report_cli:main"


def report(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return entry_point(SCRIPT, args, cwd)


def test_console_script_is_declared() -> None:
    project = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
    assert project["project"]["scripts"]["recloop-report"] == SCRIPT


@pytest.fixture(scope="module")
def sweep(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2 policies × 2 seeds sweep, made once; tests copy it before changing anything."""
    cwd = tmp_path_factory.mktemp("sweep")
    done = recloop(["-m", "policy=random,popular", "seed=0,1", *SMALL], cwd)
    assert done.returncode == 0, done.stderr
    (root,) = (cwd / "multirun").glob("*/*")
    return root


@pytest.fixture(scope="module")
def sweep_page(sweep: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    """The report of the untouched sweep (written to its default place in a copy)."""
    root = tmp_path_factory.mktemp("copy") / "sweep"
    shutil.copytree(sweep, root)
    done = report([str(root)], root.parent)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    return (root / "report.html").read_text(encoding="utf-8"), root


def test_sweep_report_shares_one_plotlyjs_in_the_folder(sweep_page: tuple[str, Path]) -> None:
    page, root = sweep_page
    assert sorted(p.name for p in root.glob("*.html")) == ["report.html"]
    assert (root / PLOTLYJS_FILE).read_text(encoding="utf-8") == get_plotlyjs()
    assert 'src="http' not in page and get_plotlyjs() not in page
    sources = re.findall(r"<script[^>]*\bsrc\s*=\s*\"([^\"]*)\"", page, flags=re.IGNORECASE)
    assert sources == [PLOTLYJS_FILE]
    assert len(page.encode("utf-8")) < 1_000_000  # the bundle alone is ~4.8 MB


def test_sweep_report_has_every_section(sweep_page: tuple[str, Path]) -> None:
    page = sweep_page[0].replace(get_plotlyjs(), "")
    for variant in VARIANTS:
        assert variant in page
    heads = re.findall(r"<h2>(.*?)</h2>", page)
    for head in ("Summary per variant", "Headline metrics against policy",
                 "Exposure inequality (Lorenz curves)", CONCENTRATION,
                 "Model registry timeline"):
        assert head in heads
    assert '"error_y"' in page
    assert "Gini 0." in page
    assert "min–max over seeds" in page
    assert "Skipped runs" not in heads
    assert "Best CTR: policy=" in page and "Most concentrated" in page  # the headline


def test_single_run_directory(sweep: Path, tmp_path: Path) -> None:
    run = tmp_path / "one"
    shutil.copytree(next(sweep.glob("0_*")), run)
    done = report([str(run)], tmp_path)
    assert done.returncode == 0, done.stderr
    page = (run / "report.html").read_text(encoding="utf-8")
    assert "Exposure inequality" in page and "Model registry timeline" in page
    assert page.count(get_plotlyjs()) == 1 and not (run / PLOTLYJS_FILE).exists()  # one file
    assert "runs: 1" in done.stdout


def test_missing_log_days_are_named_and_an_unwritable_out_is_one_line(
    sweep: Path, tmp_path: Path
) -> None:
    run = tmp_path / "one"
    shutil.copytree(next(sweep.glob("0_*")), run)
    (run / "log" / "day=0001.parquet").unlink()
    done = report([str(run)], tmp_path)
    assert done.returncode == 0, done.stderr
    assert "log days missing: 1" in done.stderr
    assert "log days missing (figures cover the rest)" in (run / "report.html").read_text()
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    done = report([str(run), "--out", str(blocker / "report.html")], tmp_path)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip().startswith("recloop-report: cannot write the report")
    assert len(done.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("content", [b"", "wrong schema"])
def test_an_unreadable_metrics_table_is_one_line_with_its_reason(
    sweep: Path, tmp_path: Path, content: object
) -> None:
    run = tmp_path / "one"
    shutil.copytree(next(sweep.glob("0_*")), run)
    if content == b"":
        (run / "metrics.parquet").write_bytes(b"")
    else:
        pd.DataFrame({"x": [1]}).to_parquet(run / "metrics.parquet")
    done = report([str(run)], tmp_path)
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1
    assert "unreadable (" in done.stderr and "Traceback" not in done.stderr


def test_out_option_writes_elsewhere(sweep: Path, tmp_path: Path) -> None:
    out = tmp_path / "deep" / "sweep.html"
    root = tmp_path / "sweep"
    shutil.copytree(sweep, root)
    done = report([str(root), "--out", str(out)], tmp_path)
    assert done.returncode == 0, done.stderr
    assert out.is_file() and not (root / "report.html").exists()


@pytest.mark.parametrize("make", ["empty", "missing"])
def test_nothing_to_report_exits_2_with_one_line(tmp_path: Path, make: str) -> None:
    target = tmp_path / "nothing"
    if make == "empty":
        target.mkdir()
    done = report([str(target)], tmp_path)
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert done.stderr.startswith("recloop-report: ")
    assert "Traceback" not in done.stderr


def test_failed_run_is_skipped_and_mentioned(sweep: Path, tmp_path: Path) -> None:
    root = tmp_path / "sweep"
    shutil.copytree(sweep, root)
    failed = next(root.glob("3_*"))
    (failed / "run.json").write_text(json.dumps({"status": "failed", "error": "boom"}))
    done = report([str(root)], tmp_path)
    assert done.returncode == 0, done.stderr
    assert f"skipped {failed}" in done.stderr and "runs: 3" in done.stdout
    page = (root / "report.html").read_text(encoding="utf-8")
    assert "<h2>Skipped runs</h2>" in page and failed.name in page and "boom" in page


def test_only_failed_runs_exit_2(sweep: Path, tmp_path: Path) -> None:
    root = tmp_path / "sweep"
    shutil.copytree(next(sweep.glob("0_*")), root / "job")
    (root / "job" / "run.json").unlink()
    done = report([str(root)], tmp_path)
    assert done.returncode == 2
    assert "no finished runs" in done.stderr and "1 skipped" in done.stderr


def test_loaded_sweep_groups_seeds_and_matches_logged_exposure(sweep: Path) -> None:
    found, skipped = rl.find_runs(sweep)
    runs, unreadable = rl.load_runs(found)
    assert len(runs) == 4 and not skipped and not unreadable
    assert rl.assign_variants(runs) == ["policy"]
    assert rl.variant_order(runs, ["policy"]) == sorted(VARIANTS)
    for run in runs:
        assert run.exposure_final.size == run.n_items == 300
        assert run.exposure_total.sum() == run.summary["impressions"]
        last = run.metrics[(run.metrics.metric == IMPRESSIONS)].sort_values("day").value.iloc[-1]
        assert run.exposure_final.sum() == last
