"""``recloop resume=PATH``: continue a killed or interrupted run, or a sweep's unfinished jobs.

The folder's own record of its command (``.hydra/hydra.yaml`` of a run, ``multirun.yaml``
of a sweep) is turned back into that command, aimed at the same folder, so a resumed run
cannot differ from the one that started. The command runs with ``RESUME_ENV`` set, which
tells the folder guard and every job (sweep workers inherit it) that continuing is meant:
a job with a checkpoint continues from it (``sim/checkpoint.py``), a finished job is left
as it is, a job that never started runs from the beginning.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from recloop.sim.config import ConfigError

RESUME_ENV = "RECLOOP_RESUME"
RUN_RECORD = Path(".hydra") / "hydra.yaml"
SWEEP_RECORD = Path("multirun.yaml")
SET_BY_MODE = ("hydra.mode=", "hydra.run.dir=", "hydra.sweep.dir=")


def resuming() -> bool:
    """True inside a ``recloop resume=PATH`` command (its sweep workers included)."""
    return os.environ.get(RESUME_ENV) == "1"


def resume_request(args: Sequence[str]) -> Path | None:
    """The folder of ``resume=PATH``, or None; ``ConfigError`` if other arguments come with
    it (a run resumes only as it was configured)."""
    asked = [a for a in args if a.startswith("resume=")]
    if not asked:
        return None
    if len(args) != 1:
        raise ConfigError("resume=PATH takes no other arguments: the run continues with the "
                          "command it started with")
    folder = asked[0].partition("=")[2]
    if not folder:
        raise ConfigError("resume=PATH needs the run or sweep folder to continue")
    return Path(folder)


def resumed_command(folder: Path) -> list[str]:
    """The arguments that rerun ``folder``'s command into ``folder``."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ConfigError(f"resume={folder}: no such folder")
    if (folder / SWEEP_RECORD).is_file():
        record, sweep = _record(folder / SWEEP_RECORD), True
    elif (folder / RUN_RECORD).is_file():
        record, sweep = _record(folder / RUN_RECORD), False
    else:
        raise ConfigError(f"resume={folder}: not a recloop run or sweep folder (it has no "
                          f"{RUN_RECORD} or {SWEEP_RECORD})")
    hydra = record.hydra
    dirs = [f"--config-dir={source.path}" for source in hydra.runtime.config_sources
            if source.provider == "command-line"]
    kept = [o for o in hydra.overrides.hydra if not o.startswith(SET_BY_MODE)]
    where = f"hydra.sweep.dir={folder}" if sweep else f"hydra.run.dir={folder}"
    return [*(["-m"] if sweep else []), *dirs, *kept, where, *hydra.overrides.task]


def _record(path: Path) -> DictConfig:
    try:
        record = OmegaConf.load(path)
    except Exception as err:  # noqa: BLE001 - any parse failure: the record is unusable
        raise ConfigError(f"resume: cannot read {path} ({type(err).__name__})") from None
    if not isinstance(record, DictConfig) or OmegaConf.select(record, "hydra.overrides") is None:
        raise ConfigError(f"resume: {path} does not record a recloop command")
    return record
