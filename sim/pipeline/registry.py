"""The model registry: every candidate the nightly job produced, and which one serves.

Each record ties a model version to the data it was trained on (the training window's
data version), its offline metrics, the validation and gate outcomes and the saved
artifact, so any day's slates can be traced to a model and that model to its data.
"""

from __future__ import annotations

import json
import pickle
from dataclasses import asdict
from pathlib import Path

import pandas as pd

from recloop.policies.base import Policy
from recloop.sim.atomic import atomic_path
from recloop.sim.pipeline.state import ModelRecord, PipelineState


class Registry:
    """Versions, artifacts on disk, and the pointer to the production model."""

    def __init__(self, root: Path, state: PipelineState) -> None:
        """``state`` holds the records and pointers (shared with the pipeline that owns it)."""
        self.root = Path(root)
        self.state = state

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
            path = self.root / f"v{rec.version:04d}.pkl"
            with atomic_path(path) as tmp:
                tmp.write_bytes(pickle.dumps(policy))
            rec.artifact = str(path)
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
        return load_model(rec.artifact)

    def frame(self) -> pd.DataFrame:
        """One row per record, nested fields as JSON text (for reports and Parquet)."""
        rows = []
        for rec in self.records:
            row = asdict(rec)
            for key in ("train_days", "judged_train_days", "offline", "production_offline",
                        "popular_offline", "offpolicy", "problems", "config"):
                row[key] = json.dumps(row[key], sort_keys=True)
            rows.append(row)
        return pd.DataFrame(rows, columns=list(ModelRecord.__dataclass_fields__))


def load_model(artifact: str | Path) -> Policy:
    """A saved model from its artifact path (a registry record's ``artifact``)."""
    policy = pickle.loads(Path(artifact).read_bytes())
    if not isinstance(policy, Policy):
        raise TypeError(f"{artifact} does not hold a recloop policy")
    return policy
