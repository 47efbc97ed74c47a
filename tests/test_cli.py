"""The console script end to end: a run directory, and a sweep of them."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from conftest import recloop

SMALL = ["users=small", "catalog=small", "progress=false"]


def finished_runs(root: Path) -> list[Path]:
    return sorted(p.parent for p in root.rglob("run.json"))


@pytest.mark.slow
def test_run_directory_holds_everything(tmp_path: Path) -> None:
    done = recloop([*SMALL, "days=3"], tmp_path)
    assert done.returncode == 0, done.stderr
    (run,) = finished_runs(tmp_path / "runs")
    assert {"config.yaml", "metrics.parquet", "report.html", "run.json", "log"} <= {
        p.name for p in run.iterdir()
    }
    assert sorted(p.name for p in (run / "log").iterdir()) == [
        f"day={d:04d}.parquet" for d in range(3)
    ]
    metrics = pd.read_parquet(run / "metrics.parquet")
    assert list(metrics.columns) == ["day", "arm", "metric", "value"]
    assert sorted(metrics.day.unique()) == [0, 1, 2]
    summary = json.loads((run / "run.json").read_text())
    assert summary["status"] == "complete" and summary["impressions"] > 0
    assert "seed: 0" in (run / "config.yaml").read_text()
    assert f"report: {run}" in done.stdout or "report.html" in done.stdout
    assert 'src="http' not in (run / "report.html").read_text()


@pytest.mark.slow
def test_sweep_over_policies_and_seeds(tmp_path: Path) -> None:
    done = recloop(["-m", "policy=random,popular", "seed=0,1", *SMALL, "days=2"], tmp_path)
    assert done.returncode == 0, done.stderr
    runs = finished_runs(tmp_path / "multirun")
    assert len(runs) == 4
    policies = sorted(json.loads((r / "run.json").read_text())["policy"] for r in runs)
    assert policies == ["popular", "popular", "random", "random"]
    assert "compare its runs with: recloop-report multirun/" in done.stdout


def test_gate_line_counts_rejections_and_warns_past_half() -> None:
    from types import SimpleNamespace

    import pandas as pd

    from recloop.experiments.outputs import gate_counts, gate_line

    registry = pd.DataFrame({
        "arm": ["main"] * 5,
        "status": ["deployed", "rejected", "rejected", "deployed", "job_failed"],
        "gate_passed": [None, False, False, True, None],
    })
    result = SimpleNamespace(registry=registry, arms=["main"])
    assert gate_counts(result, "main") == {"gate_judged_nights": 3, "gate_rejected_nights": 2}
    assert gate_line(result).startswith("quality gate: rejected 2 of 3 judged nights (warning")
    registry.loc[2, ["status", "gate_passed"]] = ["deployed", True]
    assert "warning" not in gate_line(result)


def test_run_folders_are_named_after_their_overrides() -> None:
    from recloop.experiments.schema import MAX_SUFFIX, folder_suffix

    assert folder_suffix("") == ""
    assert folder_suffix("days=60,serving=batch") == "_days=60,serving=batch"
    assert "/" not in folder_suffix("catalog.path=/data/ml-1m/ratings.csv")
    long_a, long_b = folder_suffix("x=" + "a" * 200), folder_suffix("x=" + "a" * 199 + "b")
    assert len(long_a) == MAX_SUFFIX + 1 and long_a != long_b  # cut, told apart by a hash


def test_ctrl_c_ends_with_one_line_and_an_interrupted_run(tmp_path: Path) -> None:
    """SIGINT once the first day is sealed: exit 130, one line on stderr, the run marked."""
    import signal
    import subprocess
    import sys
    import time

    code = "import sys; from recloop.experiments.run import cli; sys.exit(cli())"
    args = [sys.executable, "-c", code, *SMALL, "days=400"]
    proc = subprocess.Popen(args, cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not list(tmp_path.glob("runs/*/*/log/day=0000.parquet")):
        assert time.monotonic() < deadline and proc.poll() is None, proc.communicate()
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130
    line = ('recloop: interrupted; what was logged is kept, and the run\'s run.json says '
            '"interrupted" and how to resume it')
    assert stderr.strip().splitlines() == [line]
    (run,) = finished_runs(tmp_path / "runs")
    assert json.loads((run / "run.json").read_text())["status"] == "interrupted"


def test_help_names_groups_and_main_fields_and_hides_internals(tmp_path: Path) -> None:
    from recloop.experiments.help import MAIN_FIELDS, field_spec
    from recloop.policies.factor import ALSConfig
    from recloop.sim.config import RunConfig

    done = recloop(["--help"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert "powered by Hydra" not in done.stdout and "base_" not in done.stdout
    assert "policy      als, bpr, item_knn" in done.stdout
    assert "an integer in [1, 10,000]" in done.stdout  # days, from the field's declared range
    defaults = RunConfig(policy=ALSConfig())
    for path in MAIN_FIELDS:  # every field listed exists (a rename breaks this, not the page)
        field_spec(defaults, path)
        assert path in done.stdout
    assert not list(tmp_path.iterdir())  # --help writes nothing
