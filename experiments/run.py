"""``recloop``: the Hydra entry point. Compose, check, simulate, write the run directory.

A finished run directory holds ``config.yaml`` (resolved, with the seed actually used),
``log/day=NNNN.parquet``, ``items.parquet`` (the public item facts a policy may see),
``models/``, ``registry.parquet``, ``metrics.parquet``, ``report.html`` and, written last,
``run.json`` with ``"status": "complete"``. A run that crashed leaves ``run.json`` with
``"status": "failed"``, one stopped by Ctrl-C or SIGTERM with ``"interrupted"`` and the
days it sealed; one without ``run.json`` is still running while ``run.lock`` names a live
process, and was killed otherwise. A finished run's folder is never run into again
(``experiments/guard.py``).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
import time
from pathlib import Path

import hydra
import pandas as pd
from hydra.core.hydra_config import HydraConfig
from hydra.experimental.callback import Callback
from omegaconf import DictConfig
from tqdm.auto import tqdm

from recloop.experiments import lock
from recloop.experiments.guard import is_finished, logged_days
from recloop.experiments.help import help_text
from recloop.experiments.lock import RUN_LOCK
from recloop.experiments.outputs import gate_line, write_outputs, write_text
from recloop.experiments.preflight import CONF_DIR, check_command_line
from recloop.experiments.resume import RESUME_ENV, resume_request, resumed_command, resuming
from recloop.experiments.schema import register_schemas, run_config
from recloop.sim import checkpoint
from recloop.sim.checkpoint import CHECKPOINT, Checkpoint, CheckpointError, stale_partitions
from recloop.sim.checks import validate
from recloop.sim.config import ConfigError, RunConfig
from recloop.sim.metrics.catalogue import CTR
from recloop.sim.story import RunResult, simulate

SCAFFOLD = {".hydra", RUN_LOCK}  # what a run folder holds before the run writes anything


def execute(cfg: RunConfig, run_dir: Path, resolved: DictConfig | None = None,
            resume: bool = False) -> RunResult:
    """Simulate ``cfg`` and write every output of the run directory, ``run.json`` last.

    Whatever stops it (Ctrl-C, SIGTERM, a crash, even while the report is written) leaves
    a ``run.json`` saying so, with the days whose log partitions were sealed. ``resume``:
    continue from the folder's checkpoint when it has one.
    """
    run_dir = Path(run_dir)
    label = f"{cfg.policy.name} seed={cfg.seed}"
    start = resume_point(cfg, run_dir) if resume else None
    sealed = list(range(start.next_day if start is not None else 0))

    def on_day(day: int) -> None:
        sealed.append(day)
        bar.update(1)

    try:
        with tqdm(total=cfg.days, initial=len(sealed), desc=label, unit="day",
                  disable=not cfg.progress) as bar:
            started = time.perf_counter()
            result = simulate(cfg, run_dir, on_day=on_day, resume=start)
            wall = time.perf_counter() - started
        write_outputs(cfg, run_dir, result, resolved, wall, label)
    except BaseException as err:  # interrupted or crashed: say so, keep what was logged
        status = "interrupted" if isinstance(err, KeyboardInterrupt) else "failed"
        write_text(run_dir / "run.json", json.dumps({
            "status": status, "error": repr(err), "days_done": len(sealed),
            "days": cfg.days, "resume": f"recloop resume={run_dir}"}) + "\n")
        raise
    (run_dir / CHECKPOINT).unlink(missing_ok=True)  # finished: nothing left to resume
    return result


def resume_point(cfg: RunConfig, run_dir: Path) -> Checkpoint | None:
    """The folder's checkpoint, checked against ``cfg``, with what was written after it
    removed (it is written again, identically); None in a folder where nothing was logged.
    ``ConfigError`` (one line) when the folder cannot be resumed."""
    try:
        start = checkpoint.load(run_dir)
        if start is not None:
            checkpoint.check_same_config(start.config, cfg)
    except CheckpointError as err:
        raise ConfigError(str(err)) from None
    if start is None:
        if logged_days(run_dir):
            raise ConfigError(f"{run_dir} has logged days but no checkpoint to resume from "
                              "(run with checkpoints=false?); remove it to start over")
        return None
    stale = stale_partitions(run_dir, start.day)
    for path in stale:
        path.unlink()
    (run_dir / "run.json").unlink(missing_ok=True)  # the run is running again
    again = f"; day(s) sealed after it are written again: {len(stale)}" if stale else ""
    print(f"recloop: continuing from the checkpoint after day {start.day} "
          f"(day {start.next_day} of {cfg.days} next){again}", file=sys.stderr)
    return start


def mean_ctr(metrics: pd.DataFrame) -> float:
    """The scalar a sweeper optimises: CTR averaged over days."""
    return float(metrics.loc[metrics.metric == CTR, "value"].mean())  # over days and arms


@hydra.main(config_path=str(CONF_DIR), config_name="config", version_base=None)
def main(cfg: DictConfig) -> float:
    """One job: Hydra has made the run directory; fill it."""
    run_dir = Path(HydraConfig.get().runtime.output_dir)
    if resuming() and is_finished(run_dir):  # a sweep's finished job: kept as it is
        print(f"recloop: {run_dir} finished already; kept as it is")
        return mean_ctr(pd.read_parquet(run_dir / "metrics.parquet"))
    try:
        with lock.held(run_dir):
            return run_job(cfg, run_dir)
    except lock.FolderLocked as err:
        print(f"recloop: {err}", file=sys.stderr)
        sys.exit(2)


def run_job(cfg: DictConfig, run_dir: Path) -> float:
    """Type and check the job's config, run it, say where its report is."""
    try:
        run_cfg = run_config(cfg)  # each job of a sweep types its plug-ins itself
        validate(run_cfg)
    except ConfigError as err:
        if not any(p.name not in SCAFFOLD and p.suffix != ".log" for p in run_dir.iterdir()):
            shutil.rmtree(run_dir, ignore_errors=True)  # only what Hydra and the guard made
        fail(err)
    try:
        result = execute(run_cfg, run_dir, cfg, resume=resuming())
    except ConfigError as err:  # a checkpoint that cannot be resumed; nothing was changed
        fail(err)
    print(gate_line(result))
    print(f"report: {run_dir / 'report.html'}")
    return mean_ctr(result.metrics)


class SweepEnd(Callback):
    """Hydra callback (conf/config.yaml): a finished sweep says how to report on it."""

    def on_multirun_end(self, config: DictConfig, **kwargs: object) -> None:
        print(f"sweep finished; compare its runs with: recloop-report {config.hydra.sweep.dir}")


class Terminated(KeyboardInterrupt):
    """SIGTERM (a scheduler, ``kill``, a container stop) ends a run as Ctrl-C does."""


def _on_sigterm(signum: int, frame: object) -> None:
    raise Terminated()


def fail(err: ConfigError) -> None:
    print(f"recloop: config error: {err}", file=sys.stderr)
    sys.exit(2)


def cli() -> None:
    """Console script: check the whole command line first, then hand over to Hydra."""
    if {"--help", "-h"} & set(sys.argv[1:]):
        print(help_text())
        return
    register_schemas()
    try:
        folder = resume_request(sys.argv[1:])
        if folder is not None:
            sys.argv[1:] = resumed_command(folder)
            os.environ[RESUME_ENV] = "1"
            print(f"recloop: resuming {folder}")
        check_command_line(sys.argv[1:])
    except ConfigError as err:
        fail(err)
    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        main()
    except KeyboardInterrupt as err:
        print("recloop: interrupted; what was logged is kept, and the run's run.json says "
              '"interrupted" and how to resume it', file=sys.stderr)
        sys.exit(143 if isinstance(err, Terminated) else 130)
