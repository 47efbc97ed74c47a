"""Run folders that are never overwritten: claimed before Hydra writes anything into them.

Rerunning a command into a finished run's folder used to replace its ``run.json``,
``.hydra/overrides.yaml`` and models, so the finished run was lost. Now a folder whose
``run.json`` says ``complete`` is refused with one line (choose another ``hydra.run.dir``;
recloop does not invent a fresh name, so a folder always holds what its command asked for).
A folder holding day partitions of an unfinished run (interrupted, failed, killed) is
refused too, since sealed partitions are never rewritten, unless the command is
``recloop resume=PATH`` (``experiments/resume.py``), which continues it from its
checkpoint; one with nothing logged yet may be run into again. Temp files interrupted
writes left are removed when a folder is claimed. Either
way the folder is locked first (``experiments/lock.py``), so two processes never write one
folder.

A sweep folder holding any finished or logged job is refused the same way unless resumed. ``GuardFolders`` is the
Hydra callback (``conf/config.yaml``) that does this before Hydra creates the run folder
and writes ``.hydra/``; ``recloop.run`` claims its folder through ``claim_run_dir`` too.
"""

from __future__ import annotations

import atexit
import json
import sys
from collections.abc import Callable
from pathlib import Path

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from recloop.experiments import lock
from recloop.experiments.resume import resuming

TEMP_GLOB = ".*.tmp"  # sim/atomic.py's temporary files: ".<name>.<random>.tmp"


class FolderError(RuntimeError):
    """A run or sweep folder recloop must not or cannot write; the message is one line."""


class NothingToResume(FolderError):
    """Resuming a run that has finished: not an error, nothing is done."""


def is_finished(folder: Path) -> bool:
    """True if the folder's ``run.json`` says ``complete``."""
    try:
        summary = json.loads((Path(folder) / "run.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(summary, dict) and summary.get("status") == "complete"


def claim_run_dir(folder: Path, resume: bool = False) -> list[Path]:
    """Lock ``folder`` for this process unless it holds a finished run, or (without
    ``resume``) an unfinished one; returns the orphan temp files removed. Raises
    ``FolderError`` with one line otherwise."""
    folder = Path(folder)
    _take_lock(folder)
    orphans = orphan_temp_files(folder)
    if is_finished(folder):
        lock.release(folder)
        if resume:
            raise NothingToResume(f"{folder} holds a finished run; nothing to resume")
        raise FolderError(f"{folder} already holds a finished run; it is left as it is: "
                          "choose another folder (hydra.run.dir=...) or remove it first")
    sealed = logged_days(folder)
    if sealed and not resume:  # sealed partitions are immutable: a new run cannot write over them
        lock.release(folder)
        left = f"; {len(orphans)} temp file(s) an interrupted write left" if orphans else ""
        raise FolderError(f"{folder} holds an unfinished run ({len(sealed)} day(s) logged{left}); "
                          f"it is kept: continue it with recloop resume={folder}, or choose "
                          "another folder (hydra.run.dir=...)")
    for path in orphans:
        path.unlink(missing_ok=True)
    return orphans


def logged_days(folder: Path) -> list[Path]:
    """The sealed day partitions of the run in ``folder``."""
    return sorted((Path(folder) / "log").glob("day=*.parquet"))


def orphan_temp_files(folder: Path) -> list[Path]:
    """Temp files of atomic writes no live process finishes (call with the lock held)."""
    return sorted(Path(folder).rglob(TEMP_GLOB))


def claim_sweep_dir(folder: Path, resume: bool = False) -> None:
    """Lock a sweep folder unless a job in it has finished or logged anything (allowed when
    resuming: finished jobs are then kept, unfinished ones continue); ``FolderError``
    otherwise."""
    folder = Path(folder)
    _take_lock(folder)
    if resume:
        return
    jobs = {p.parent.parent for p in folder.glob("*/log/day=*.parquet")}
    done = {p.parent for p in folder.rglob("run.json") if is_finished(p.parent)}
    if jobs | done:
        lock.release(folder)
        raise FolderError(f"{folder} already holds a sweep ({len(done)} finished job(s), "
                          f"{len(jobs - done)} unfinished); it is kept: continue it with "
                          f"recloop resume={folder}, or choose another folder "
                          "(hydra.sweep.dir=...)")


def _take_lock(folder: Path) -> None:
    try:
        lock.acquire(folder)
    except lock.FolderLocked as err:
        raise FolderError(str(err)) from None
    except OSError as err:
        in_the_way = folder.exists() and not folder.is_dir()
        reason = "a file is in the way" if in_the_way else err.strerror or type(err).__name__
        raise FolderError(f"cannot write the run folder {folder}: {reason}") from None
    atexit.register(lock.release, folder)


class GuardFolders(Callback):
    """Hydra callback: claim the run (or sweep) folder before Hydra writes into it."""

    def on_run_start(self, config: DictConfig, **kwargs: object) -> None:
        self._claim(claim_run_dir, config.hydra.run.dir)

    def on_multirun_start(self, config: DictConfig, **kwargs: object) -> None:
        self._claim(claim_sweep_dir, config.hydra.sweep.dir)

    def on_run_end(self, config: DictConfig, **kwargs: object) -> None:
        lock.release(Path(config.hydra.run.dir))

    def on_multirun_end(self, config: DictConfig, **kwargs: object) -> None:
        lock.release(Path(config.hydra.sweep.dir))

    @staticmethod
    def _claim(claim: Callable[[Path, bool], list[Path] | None], folder: str) -> None:
        try:
            removed = claim(Path(folder), resuming())
        except NothingToResume as err:
            print(f"recloop: {err}")
            sys.exit(0)
        except FolderError as err:
            print(f"recloop: {err}", file=sys.stderr)
            sys.exit(2)
        if removed:
            print(f"recloop: removed {len(removed)} temp file(s) an interrupted write left in "
                  f"{folder}")
