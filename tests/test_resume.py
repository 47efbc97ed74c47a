"""A killed run resumes from its last midnight and finishes byte-identical to one never
interrupted; a resume under another config, or without a checkpoint, is refused."""

from __future__ import annotations

import hashlib
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import SMALL, recloop

from recloop.experiments.api import run
from recloop.experiments.preflight import check_job
from recloop.experiments.resume import resumed_command
from recloop.sim import checkpoint
from recloop.sim.config import RunConfig
from recloop.sim.story import RunResult, simulate

MakeConfig = Callable[..., RunConfig]
CLI = "import sys; from recloop.experiments.run import cli; sys.exit(cli())"
MIXED = ["serving=hybrid", "policy=als", "policy.epsilon=0.05", "controller.adaptive_epsilon=true",
         "policy@ab.treatment=item_knn", "ab.treatment.epsilon=0.1", "ab=per_arm", "policy@shadow=popular",
         "faults.outage_rate=1", "faults.failed_nights=[3]", "faults.log_loss_days=[5]",
         "users.visits.signups_per_day=5"]
CHURN = ["churn_model.enabled=true", "churn_model.holdout_share=0.05", "churn_model.label_days=3"]


class Killed(Exception):
    """Stands in for SIGKILL: the run stops between two statements, nothing cleaned up."""


def partitions(folder: Path) -> dict[str, str]:
    """Every sealed partition (the log's and a shadow's), by relative path, with its digest."""
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("day=*.parquet"))}


def killed_at(cfg: RunConfig, folder: Path, day: int) -> None:
    """Run until day ``day`` has closed, then die before its checkpoint is written."""
    def die(closed: int) -> None:
        if closed == day:
            raise Killed

    with pytest.raises(Killed):
        simulate(cfg, folder, on_day=die)


def resumed(cfg: RunConfig, folder: Path) -> RunResult:
    start = checkpoint.load(folder)
    assert start is not None
    for path in checkpoint.stale_partitions(folder, start.day):
        path.unlink()
    return simulate(cfg, folder, resume=start)


@pytest.mark.parametrize("extra", [[], MIXED, CHURN], ids=["default", "mixed", "churn"])
def test_a_run_killed_mid_way_resumes_to_the_same_numbers_and_partitions(
    small_config: MakeConfig, tmp_path: Path, extra: list[str]
) -> None:
    cfg = small_config("days=10", *extra)
    whole = simulate(cfg, tmp_path / "whole")
    killed_at(cfg, tmp_path / "killed", 5)
    assert checkpoint.load(tmp_path / "killed").day == 4  # type: ignore[union-attr]
    again = resumed(cfg, tmp_path / "killed")
    pd.testing.assert_frame_equal(whole.metrics, again.metrics)
    pd.testing.assert_frame_equal(whole.registry, again.registry)
    assert partitions(tmp_path / "whole") == partitions(tmp_path / "killed")
    np.testing.assert_array_equal(whole.state.seen, again.state.seen)


def test_a_moved_folder_resumes_and_writes_only_inside_itself(
    small_config: MakeConfig, tmp_path: Path
) -> None:
    cfg = small_config("days=6")
    whole = simulate(cfg, tmp_path / "whole")
    killed_at(cfg, tmp_path / "first", 2)
    shutil.move(tmp_path / "first", tmp_path / "moved")
    again = resumed(cfg, tmp_path / "moved")
    pd.testing.assert_frame_equal(whole.metrics, again.metrics)
    assert partitions(tmp_path / "whole") == partitions(tmp_path / "moved")
    assert not (tmp_path / "first").exists()  # no path of the old place survived the pickle


def test_resume_through_the_api_refuses_another_config_and_finishes_clean(
    small_config: MakeConfig, tmp_path: Path
) -> None:
    cfg = small_config("days=6")
    killed_at(cfg, tmp_path, 3)
    with pytest.raises(FileExistsError, match="unfinished run .* recloop resume="):
        run(cfg, tmp_path)  # not asked to resume: the logged days are kept
    with pytest.raises(ValueError, match=r"different config \(days: 6 then, 7 now\)"):
        run(small_config("days=7"), tmp_path, resume=True)
    assert len(list((tmp_path / "log").glob("day=*.parquet"))) == 4  # nothing removed
    result = run(cfg, tmp_path, resume=True)
    assert result.metrics.day.max() == 5
    assert (tmp_path / "run.json").is_file() and not (tmp_path / checkpoint.CHECKPOINT).exists()


def test_logged_days_without_a_checkpoint_cannot_be_resumed(
    small_config: MakeConfig, tmp_path: Path
) -> None:
    cfg = small_config("days=6", "checkpoints=false")
    killed_at(cfg, tmp_path, 2)
    with pytest.raises(ValueError, match="logged days but no checkpoint"):
        run(cfg, tmp_path, resume=True)


def test_a_resume_command_is_rebuilt_from_the_folders_own_record(tmp_path: Path) -> None:
    done = recloop(["-m", *SMALL, "days=2", "seed=0,1", "hydra.sweep.dir=S"], tmp_path,
                   timeout=300)
    assert done.returncode == 0, done.stderr
    sweep = resumed_command(tmp_path / "S")
    assert sweep[0] == "-m" and f"hydra.sweep.dir={tmp_path / 'S'}" in sweep
    assert "seed=0,1" in sweep and not any(a.startswith("hydra.mode") for a in sweep)
    (job,) = [p for p in (tmp_path / "S").iterdir() if p.name.startswith("0_")]
    single = resumed_command(job)
    assert "-m" not in single and f"hydra.run.dir={job}" in single and "seed=0" in single
    check_job([a for a in single if not a.startswith(("hydra", "-"))])  # a valid job


def wait_until_logged(folder: Path, days: int, proc: subprocess.Popen[str]) -> None:
    """Until the run has recorded its command and sealed ``days`` days."""
    deadline = time.monotonic() + 300
    while not (folder / ".hydra" / "hydra.yaml").is_file() or \
            len(list((folder / "log").glob("day=*.parquet"))) < days:
        assert time.monotonic() < deadline and proc.poll() is None, proc.communicate()
        time.sleep(0.05)


@pytest.mark.slow
def test_five_sigkills_at_random_moments_all_resume_byte_identical(tmp_path: Path) -> None:
    """The acceptance: SIGKILL a run at five random moments (seeded), resume each with
    ``recloop resume=PATH``; metrics, registry and every partition match an uninterrupted
    run byte for byte."""
    args = [*SMALL, "days=10", "users.visits.signups_per_day=5"]
    whole = recloop([*args, "hydra.run.dir=whole"], tmp_path, timeout=600)
    assert whole.returncode == 0, whole.stderr
    rng = np.random.default_rng(20261201)
    for trial, (after_days, delay) in enumerate(zip(rng.integers(0, 9, size=5),
                                                    rng.uniform(0, 0.8, size=5), strict=True)):
        folder = tmp_path / f"killed{trial}"
        proc = subprocess.Popen([sys.executable, "-c", CLI, *args, f"hydra.run.dir={folder}"],
                                cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
        wait_until_logged(folder, int(after_days), proc)
        time.sleep(float(delay))
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=60)
        again = recloop([f"resume={folder}"], tmp_path, timeout=600)
        assert again.returncode == 0, again.stderr
        for name in ("metrics.parquet", "registry.parquet", "items.parquet"):
            assert (folder / name).read_bytes() == (tmp_path / "whole" / name).read_bytes(), name
        assert partitions(folder) == partitions(tmp_path / "whole")
        assert not list(folder.rglob(".*.tmp")) and not (folder / checkpoint.CHECKPOINT).exists()


@pytest.mark.slow
def test_a_killed_sweep_resumes_its_unfinished_job_and_keeps_the_finished_one(
    tmp_path: Path,
) -> None:
    args = ["-m", *SMALL, "days=6", "seed=0,1", "hydra.sweep.dir=S"]
    proc = subprocess.Popen([sys.executable, "-c", CLI, *args], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while not list((tmp_path / "S").glob("1_*/log/day=0002.parquet")):
        assert time.monotonic() < deadline and proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    (first,) = (tmp_path / "S").glob("0_*")
    (second,) = (tmp_path / "S").glob("1_*")
    before = {p: p.read_bytes() for p in sorted(first.rglob("*")) if p.is_file()}
    refused = recloop(args, tmp_path, timeout=300)
    assert refused.returncode == 2 and "(1 finished job(s), 1 unfinished)" in refused.stderr
    again = recloop(["resume=S"], tmp_path, timeout=600)
    assert again.returncode == 0, again.stderr
    assert {p: p.read_bytes() for p in sorted(first.rglob("*")) if p.is_file()} == before
    alone = recloop([*SMALL, "days=6", "seed=1", "hydra.run.dir=alone"], tmp_path, timeout=300)
    assert alone.returncode == 0, alone.stderr
    assert (second / "metrics.parquet").read_bytes() == \
        (tmp_path / "alone" / "metrics.parquet").read_bytes()
    assert partitions(second) == partitions(tmp_path / "alone")


def test_resume_of_a_missing_or_foreign_folder_is_one_line(tmp_path: Path) -> None:
    missing = recloop([f"resume={tmp_path / 'nowhere'}"], tmp_path, timeout=120)
    assert missing.returncode == 2
    assert missing.stderr.strip().splitlines() == [
        f"recloop: config error: resume={tmp_path / 'nowhere'}: no such folder"]
    (tmp_path / "plain").mkdir()
    foreign = recloop([f"resume={tmp_path / 'plain'}", "days=3"], tmp_path, timeout=120)
    assert foreign.returncode == 2 and "takes no other arguments" in foreign.stderr
