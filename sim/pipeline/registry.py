"""The model registry: every candidate the nightly job produced, and which one serves.

Each record ties a model version to the data it was trained on (the training window's
data version), its offline metrics, the validation and gate outcomes and the saved
artifact, so any day's slates can be traced to a model and that model to its data.

Artifacts live under the run folder's ``models/`` and records name them relative to the run
folder (``models/v0003.npz``), so a run folder can be moved or copied whole. In
``registry.parquet`` nested fields are Parquet lists and structs, not JSON text.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from recloop.policies.base import Policy
from recloop.sim.pipeline.artifacts import load_model, save_model
from recloop.sim.pipeline.state import ModelRecord, PipelineState

__all__ = ["Registry", "load_model", "read_registry", "registry_table"]
LISTS = ("train_days", "judged_train_days", "problems")  # list columns
METRICS = ("offline", "production_offline", "popular_offline", "offpolicy")  # name -> float
NESTED = (*LISTS, *METRICS, "config")


class Registry:
    """Versions, artifacts on disk, and the pointer to the production model."""

    def __init__(self, root: Path, state: PipelineState) -> None:
        """``state`` holds the records and pointers (shared with the pipeline that owns it)."""
        self.root = Path(root)
        self.state = state
        self.run_dir = next((p.parent for p in (self.root, *self.root.parents)
                             if p.name == "models"), self.root.parent)

    @property
    def records(self) -> list[ModelRecord]:
        return self.state.records

    @property
    def production(self) -> int | None:
        """The version serving now."""
        return self.state.production

    @property
    def previous(self) -> int | None:
        """The version that served before it, for rollback."""
        return self.state.previous

    def next_version(self) -> int:
        return len(self.records) + 1

    def record(self, rec: ModelRecord, policy: Policy | None = None) -> ModelRecord:
        """Append a record; save the policy as its artifact when given."""
        if policy is not None:
            path = save_model(policy, self.root / f"v{rec.version:04d}")
            rec.artifact = path.relative_to(self.run_dir).as_posix()
        self.records.append(rec)
        return rec

    def promote(self, version: int) -> None:
        """Make ``version`` the production model, remembering the one it replaces."""
        state = self.state
        if version != state.production:
            state.previous, state.production = state.production, version

    def load(self, version: int) -> Policy:
        """The saved policy of a version (for rollback)."""
        rec = self.records[version - 1]
        if not rec.artifact:
            raise FileNotFoundError(f"model v{version} has no saved artifact")
        return load_model(self.run_dir / rec.artifact)

    def frame(self) -> pd.DataFrame:
        """One row per record; nested fields as Python lists and dicts."""
        rows = [asdict(rec) for rec in self.records]
        return pd.DataFrame(rows, columns=list(ModelRecord.__dataclass_fields__))


def registry_table(frame: pd.DataFrame) -> pa.Table:
    """A registry frame as a typed Arrow table: lists as lists, metric dicts as structs of
    float64; a config the runs' policies disagree on the types of stays JSON text."""
    columns: dict[str, pa.Array] = {}
    for name in frame.columns:
        values = list(frame[name])
        if name in LISTS:
            kind = pa.string() if name == "problems" else pa.int32()
            columns[name] = pa.array([list(v) for v in values], pa.list_(kind))
        elif name in METRICS:
            keys = sorted({k for v in values for k in v})
            struct = pa.struct([(k, pa.float64()) for k in keys]) if keys else None
            columns[name] = (pa.array([v or None for v in values], struct) if struct
                             else pa.nulls(len(values), pa.struct([("none", pa.float64())])))
        elif name == "config":
            columns[name] = _config_column(values)
        else:
            columns[name] = pa.array(values, from_pandas=True)
    return pa.table(columns)


def _config_column(values: list[dict[str, Any]]) -> pa.Array:
    try:
        return pa.array([v or None for v in values])
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return pa.array([json.dumps(v, sort_keys=True) for v in values])


def read_registry(path: Path) -> pd.DataFrame:
    """``registry.parquet`` as ``Registry.frame`` holds it: lists, dicts without the keys
    other rows brought (nulls), artifacts as written; old files' JSON text is parsed too."""
    frame = pd.read_parquet(path)
    for name in NESTED:
        if name in frame:
            frame[name] = [_plain(v, name in LISTS) for v in frame[name]]
    return frame


def _plain(value: Any, is_list: bool) -> Any:
    if isinstance(value, str):
        value = json.loads(value)
    if is_list:
        return [] if value is None else [v.item() if hasattr(v, "item") else v for v in value]
    return {k: v for k, v in (value or {}).items() if v is not None}
