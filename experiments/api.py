"""recloop from Python: a checked config, a run written as the CLI writes it, a run read back.

    import recloop

    cfg = recloop.config("users=small", "catalog=small", "days=10", "policy=als")
    result = recloop.run(cfg, "runs/als")     # metrics, registry, world and state in memory
    again = recloop.load_run("runs/als")      # the same metrics and registry, from disk

``config`` composes the packaged Hydra configs with the same start-up checks as the
``recloop`` command (a bad value raises ``ConfigError`` naming the field); ``run`` writes
the run directory the command writes (log, models, metrics, registry, report, ``run.json``
last); ``simulate`` (``recloop.sim.story``) runs without writing anything but the log.
"""

from __future__ import annotations

from pathlib import Path

from recloop.experiments.guard import FolderError, claim_run_dir
from recloop.experiments.lock import release
from recloop.experiments.preflight import check_job
from recloop.experiments.run import execute
from recloop.experiments.runs import Run
from recloop.experiments.runs import load_run as read_run
from recloop.sim.config import ConfigError, RunConfig
from recloop.sim.story import RunResult


def config(*overrides: str, config_dir: str | Path | None = None) -> RunConfig:
    """The default config with Hydra-style overrides (``"policy=als"``), checked.

    ``config_dir``: a folder of your own config groups searched after the packaged ones
    (as ``recloop --config-dir``), e.g. ``policy/newest.yaml`` for a plug-in policy.
    """
    return check_job(list(overrides), [Path(config_dir)] if config_dir is not None else [])


def run(cfg: RunConfig, run_dir: str | Path, resume: bool = False) -> RunResult:
    """Simulate ``cfg`` into a run directory, as the ``recloop`` command does: a folder
    holding a finished run, or one another process is writing, raises ``FileExistsError``.
    ``resume``: continue an unfinished run in ``run_dir`` from its last checkpoint (as
    ``recloop resume=PATH``); ``ValueError`` if it cannot be (another config, no checkpoint).
    """
    path = Path(run_dir)
    try:
        claim_run_dir(path, resume)
    except FolderError as err:
        raise FileExistsError(str(err)) from None
    try:
        return execute(cfg, path, resume=resume)
    except ConfigError as err:
        raise ValueError(str(err)) from None
    finally:
        release(path)


def load_run(run_dir: str | Path) -> Run:
    """A finished run directory: summary, overrides, metrics, registry, item exposure, the
    public item table (``.items``), the log (``.log(days)``) and saved models (``.model(v)``)."""
    return read_run(Path(run_dir))
