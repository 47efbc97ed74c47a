"""Run folders are never overwritten, have one writer at a time, and record every ending."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import SMALL, recloop

from recloop.experiments import lock
from recloop.experiments.guard import FolderError, claim_run_dir, claim_sweep_dir
from recloop.experiments.runs import find_runs

TINY = [*SMALL, "days=2"]
CLI = "import sys; from recloop.experiments.run import cli; sys.exit(cli())"


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file below ``folder`` (hidden ones too), by relative path, with its bytes."""
    return {str(p.relative_to(folder)): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_rerunning_a_finished_run_leaves_every_file_intact(tmp_path: Path) -> None:
    first = recloop([*TINY, "hydra.run.dir=D"], tmp_path, timeout=300)
    assert first.returncode == 0, first.stderr
    before = snapshot(tmp_path / "D")
    assert {"run.json", ".hydra/overrides.yaml", "metrics.parquet"} <= set(before)
    assert "run.lock" not in before  # released when the run ended
    again = recloop([*TINY, "seed=7", "policy=popular", "hydra.run.dir=D"], tmp_path, timeout=300)
    assert again.returncode == 2
    (line,) = again.stderr.strip().splitlines()
    assert line.startswith("recloop: D already holds a finished run")
    assert snapshot(tmp_path / "D") == before  # byte for byte, and no file added


def test_a_sweep_folder_with_finished_jobs_is_refused(tmp_path: Path) -> None:
    first = recloop(["-m", "seed=0,1", *TINY, "hydra.sweep.dir=S"], tmp_path, timeout=300)
    assert first.returncode == 0, first.stderr
    before = snapshot(tmp_path / "S")
    again = recloop(["-m", "seed=0,1", *TINY, "hydra.sweep.dir=S"], tmp_path, timeout=300)
    assert again.returncode == 2
    assert again.stderr.strip().splitlines() == [
        ("recloop: S already holds a sweep (2 finished job(s), 0 unfinished); it is kept: "
         "continue it with recloop resume=S, or choose another folder (hydra.sweep.dir=...)")]
    assert snapshot(tmp_path / "S") == before


def start_run(cwd: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", CLI, *SMALL, *args], cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for(path: Path, proc: subprocess.Popen[str], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline and proc.poll() is None, proc.communicate()
        time.sleep(0.1)


def test_a_second_writer_is_refused_and_sigterm_records_the_day_reached(tmp_path: Path) -> None:
    """While one run writes D, another is refused in one line; SIGTERM then ends the first
    as Ctrl-C does: exit 143, one line, run.json ``interrupted`` with the days sealed."""
    first = start_run(tmp_path, "days=400", "hydra.run.dir=D")
    wait_for(tmp_path / "D" / "log" / "day=0000.parquet", first)
    second = recloop([*TINY, "hydra.run.dir=D"], tmp_path, timeout=120)
    assert second.returncode == 2
    (line,) = second.stderr.strip().splitlines()
    assert line.startswith("recloop: D is being written by another run (pid ")
    assert str(first.pid) in line
    first.send_signal(signal.SIGTERM)
    _, stderr = first.communicate(timeout=120)
    assert first.returncode == 143
    assert stderr.strip().splitlines() == [
        ('recloop: interrupted; what was logged is kept, and the run\'s run.json says '
        '"interrupted" and how to resume it')]
    status = json.loads((tmp_path / "D" / "run.json").read_text())
    sealed = len(list((tmp_path / "D" / "log").glob("day=*.parquet")))
    assert status["status"] == "interrupted" and status["days"] == 400
    assert status["resume"] == f"recloop resume={tmp_path / 'D'}"
    assert 1 <= status["days_done"] <= sealed
    assert not (tmp_path / "D" / "run.lock").exists()


def test_a_killed_run_is_reported_interrupted_and_its_partitions_kept(tmp_path: Path) -> None:
    proc = start_run(tmp_path, "days=400", "hydra.run.dir=D")
    wait_for(tmp_path / "D" / "log" / "day=0000.parquet", proc)
    _, running = find_runs(tmp_path)
    assert [s.reason.startswith("running (pid ") for s in running] == [True]
    proc.kill()  # SIGKILL: no run.json, the lock stays behind naming a dead pid
    proc.communicate(timeout=60)
    assert (tmp_path / "D" / "run.lock").exists() and not (tmp_path / "D" / "run.json").exists()
    done, skipped = find_runs(tmp_path)
    assert done == [] and [s.reason.split(" (")[0] for s in skipped] == ["status 'interrupted'"]
    (tmp_path / "D" / "log" / ".day=0999.parquet.x1y2.tmp").write_bytes(b"half a partition")
    before = snapshot(tmp_path / "D")
    again = recloop([*TINY, "hydra.run.dir=D"], tmp_path, timeout=300)
    assert again.returncode == 2
    (line,) = again.stderr.strip().splitlines()
    assert line.startswith("recloop: D holds an unfinished run (")
    # the one planted, and any the kill left (a checkpoint being written, say)
    assert re.search(r"day\(s\) logged; \d+ temp file\(s\) an interrupted write left\); it is "
                     r"kept: continue it with recloop resume=D,", line)
    before.pop("run.lock")  # the dead writer's lock was cleared; nothing else changed
    assert snapshot(tmp_path / "D") == before


def test_a_folder_with_nothing_logged_is_reused_and_its_temp_files_cleared(
    tmp_path: Path,
) -> None:
    orphan = tmp_path / ".metrics.parquet.a1b2.tmp"
    orphan.write_bytes(b"half a table")
    assert claim_run_dir(tmp_path) == [orphan]
    assert not orphan.exists() and lock.holder(tmp_path).pid == os.getpid()  # type: ignore[union-attr]
    lock.release(tmp_path)


def test_lock_is_exclusive_and_only_a_dead_holder_is_stale(tmp_path: Path) -> None:
    lock.acquire(tmp_path)
    held = lock.holder(tmp_path)
    assert held is not None and held.pid == os.getpid() and held.host == socket.gethostname()
    with pytest.raises(lock.FolderLocked, match="being written by another run"):
        lock.acquire(tmp_path)  # a live holder, even this very process
    lock.release(tmp_path)
    assert lock.holder(tmp_path) is None

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = {"pid": dead.pid, "host": socket.gethostname(), "started": "earlier"}
    (tmp_path / lock.RUN_LOCK).write_text(json.dumps(stale))
    assert lock.live_holder(tmp_path) is None
    lock.acquire(tmp_path)  # taken over
    assert lock.holder(tmp_path).pid == os.getpid()  # type: ignore[union-attr]

    elsewhere = {"pid": dead.pid, "host": "another-host", "started": "earlier"}
    (tmp_path / lock.RUN_LOCK).write_text(json.dumps(elsewhere))
    with pytest.raises(lock.FolderLocked):
        lock.acquire(tmp_path)  # its pid means nothing here: never presumed dead
    lock.release(tmp_path)  # not ours: left alone
    assert lock.holder(tmp_path).host == "another-host"  # type: ignore[union-attr]


def test_claims_refuse_finished_and_unwritable_folders_in_one_line(tmp_path: Path) -> None:
    finished = tmp_path / "done"
    finished.mkdir()
    (finished / "run.json").write_text('{"status": "complete"}')
    with pytest.raises(FolderError, match="already holds a finished run"):
        claim_run_dir(finished)
    assert not (finished / lock.RUN_LOCK).exists()
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(FolderError, match="file: a file is in the way"):
        claim_run_dir(blocker)
    with pytest.raises(FolderError, match="cannot write the run folder .*file/run: "):
        claim_run_dir(blocker / "run")
    sweep = tmp_path / "sweep"
    (sweep / "0_seed=0").mkdir(parents=True)
    (sweep / "0_seed=0" / "run.json").write_text('{"status": "failed"}')
    claim_sweep_dir(sweep)  # failed jobs only: the sweep may be run again
    lock.release(sweep)
    (sweep / "1_seed=1").mkdir()
    (sweep / "1_seed=1" / "run.json").write_text('{"status": "complete"}')
    with pytest.raises(FolderError, match=r"holds a sweep \(1 finished job"):
        claim_sweep_dir(sweep)


def test_a_job_holds_its_own_folder_unless_its_process_holds_it_already(tmp_path: Path) -> None:
    """A sweep's job locks its folder for the run (a worker orphaned by a killed sweep may
    still write it); a single run's folder, claimed by the guard, is not locked twice."""
    with lock.held(tmp_path):
        assert lock.holder(tmp_path).pid == os.getpid()  # type: ignore[union-attr]
        with lock.held(tmp_path):  # held by this process: nothing more to take
            pass
        assert lock.holder(tmp_path) is not None
    assert lock.holder(tmp_path) is None
    orphan = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (tmp_path / lock.RUN_LOCK).write_text(json.dumps(
            {"pid": orphan.pid, "host": socket.gethostname(), "started": "earlier"}))
        with pytest.raises(lock.FolderLocked, match=f"pid {orphan.pid}"), lock.held(tmp_path):
            pass
    finally:
        orphan.kill()
        orphan.wait()
