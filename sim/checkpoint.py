"""The run's whole state at a midnight, on disk, so a killed run continues where it was.

After each day closes (its partitions sealed, its metrics recorded, the controller done),
the engine (users, memory, arms, pipelines, registries, the log's digests, the metrics so
far and every random stream, whose positions live in their bit generators) and the fault
plan are pickled to ``checkpoint.pkl`` beside the log, atomically, replacing the last one.
A checkpoint is also written before the first night, so a run with anything logged always
has one. Resuming unpickles it and runs the story from the next night: the finished run is
byte-identical to one never interrupted, because nothing that decides a later number lives
outside what is pickled.

Paths inside the run folder are stored relative to it, so a moved folder still resumes.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass, fields, is_dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from recloop.sim.atomic import atomic_path
from recloop.sim.config import RunConfig

if TYPE_CHECKING:
    from recloop.sim.engine import Engine
    from recloop.sim.faults import FaultPlan

CHECKPOINT = "checkpoint.pkl"
BEFORE_FIRST_NIGHT = -1
PACK_AT_LEAST = 1 << 16  # boolean matrices this large are pickled as bits  # the day a checkpoint taken before anything happened has closed


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be resumed; the message is one line."""


@dataclass
class Checkpoint:
    """The run after midnight of ``day``: it goes on with the night before ``day + 1``."""

    day: int
    engine: Engine
    faults: FaultPlan
    entropy: int  # the root seed entropy the run uses

    @property
    def config(self) -> RunConfig:
        return self.engine.service.cfg

    @property
    def next_day(self) -> int:
        return self.day + 1


class _RunDirPickler(pickle.Pickler):
    """Pickles paths under the run folder as paths relative to it."""

    def __init__(self, file: Any, run_dir: Path) -> None:
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self.run_dir = run_dir

    def persistent_id(self, obj: object) -> tuple[str, str] | None:
        if isinstance(obj, Path) and obj.is_relative_to(self.run_dir):
            return ("run_dir", str(obj.relative_to(self.run_dir)))
        return None

    def reducer_override(self, obj: object) -> Any:
        """Boolean matrices (users × items: watched, candidates) as bits, 8x smaller."""
        if isinstance(obj, np.ndarray) and obj.dtype == np.bool_ and obj.ndim == 2 \
                and obj.size >= PACK_AT_LEAST:
            return _unpack_bits, (np.packbits(obj, axis=1), obj.shape[1])
        return NotImplemented


def _unpack_bits(bits: np.ndarray, columns: int) -> np.ndarray:
    return np.unpackbits(bits, axis=1, count=columns).astype(bool)


class _RunDirUnpickler(pickle.Unpickler):
    def __init__(self, file: Any, run_dir: Path) -> None:
        super().__init__(file)
        self.run_dir = run_dir

    def persistent_load(self, pid: tuple[str, str]) -> Path:
        return self.run_dir / pid[1]


def save(checkpoint: Checkpoint, run_dir: Path) -> None:
    """Replace the run folder's checkpoint, atomically."""
    run_dir = Path(run_dir).absolute()
    with atomic_path(run_dir / CHECKPOINT) as tmp, open(tmp, "wb") as out:
        _RunDirPickler(out, run_dir).dump(checkpoint)


def load(run_dir: Path) -> Checkpoint | None:
    """The folder's checkpoint, or None without one. ``CheckpointError`` if unreadable."""
    run_dir = Path(run_dir).absolute()
    path = run_dir / CHECKPOINT
    if not path.exists():
        return None
    try:
        with open(path, "rb") as source:
            found = _RunDirUnpickler(source, run_dir).load()
    except Exception as err:  # noqa: BLE001 - any unpickling failure means: cannot resume
        raise CheckpointError(f"{path} cannot be read ({type(err).__name__}); the run "
                              "cannot be resumed from it") from None
    if not isinstance(found, Checkpoint):
        raise CheckpointError(f"{path} is not a recloop checkpoint")
    return found


def check_same_config(saved: RunConfig, asked: RunConfig) -> None:
    """Refuse to resume under a different config (progress bars aside), naming a field."""
    saved, asked = replace(saved, progress=False), replace(asked, progress=False)
    if saved != asked:
        where = first_difference(saved, asked) or "the config"
        raise CheckpointError(f"the run was started with a different config ({where}); it "
                              "resumes only with the config it started with")


def first_difference(a: object, b: object, prefix: str = "") -> str | None:
    """The dotted name of the first field where two configs differ, with both values."""
    if is_dataclass(a) and is_dataclass(b) and type(a) is type(b):
        for f in fields(a):
            found = first_difference(getattr(a, f.name), getattr(b, f.name),
                                     f"{prefix}{f.name}.")
            if found is not None:
                return found
        return None
    if a != b:
        return f"{prefix.rstrip('.')}: {a!r} then, {b!r} now"
    return None


def stale_partitions(run_dir: Path, after: int) -> list[Path]:
    """Partitions of days after ``after`` (sealed after the checkpoint was taken): the
    resumed run writes them again, identically."""
    found = []
    for log in ("log", "shadow_log"):
        for path in (Path(run_dir) / log).glob("day=*.parquet"):
            if int(path.stem.split("=")[1]) > after:
                found.append(path)
    return sorted(found)
