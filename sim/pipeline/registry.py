"""The model registry: every candidate the nightly job produced, and which one serves.

Each record ties a model version to the data it was trained on (the training window's
data version), its offline metrics, the validation and gate outcomes and the saved
artifact, so any day's slates can be traced to a model and that model to its data.
"""

from __future__ import annotations

import json
import pickle
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from policies.base import Policy
from sim.atomic import atomic_path


@dataclass
class ModelRecord:
    """One nightly candidate and what became of it."""

    version: int
    night: int  # trained the night before this day
    status: str  # deployed | rejected | validation_failed | job_failed | rolled_back
    data_version: str = ""
    train_days: list[int] = field(default_factory=list)  # of the model that was registered
    judged_train_days: list[int] = field(default_factory=list)  # of the gate's fit, before a refit
    eval_day: int | None = None
    offline: dict[str, float] = field(default_factory=dict)  # candidate on the eval day
    production_offline: dict[str, float] = field(default_factory=dict)  # re-scored live
    popular_offline: dict[str, float] = field(default_factory=dict)  # most-popular reference
    offpolicy: dict[str, float] = field(default_factory=dict)  # candidate's CTR from the log
    offpolicy_note: str = ""  # why there is no off-policy estimate, when there is none
    gate_passed: bool | None = None
    problems: list[str] = field(default_factory=list)
    artifact: str = ""
    config: dict[str, Any] = field(default_factory=dict)


class Registry:
    """Versions, artifacts on disk, and the pointer to the production model."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.records: list[ModelRecord] = []
        self.production: int | None = None  # version serving now
        self.previous: int | None = None  # version that served before it, for rollback

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
        if version != self.production:
            self.previous, self.production = self.production, version

    def load(self, version: int) -> Policy:
        """The saved policy of a version (for rollback)."""
        rec = self.records[version - 1]
        if not rec.artifact:
            raise FileNotFoundError(f"model v{version} has no saved artifact")
        policy = pickle.loads(Path(rec.artifact).read_bytes())
        assert isinstance(policy, Policy)
        return policy

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
