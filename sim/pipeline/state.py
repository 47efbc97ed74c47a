"""What a nightly pipeline decides and carries from one night to the next, as plain values."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from recloop.policies.base import Policy


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


@dataclass
class PipelineState:
    """The pipeline's random streams, the registry's records and pointers, the quarantine
    list, the gate's history."""

    rng: np.random.Generator  # held-out user samples
    estimate_rng: np.random.Generator  # off-policy samples: never shift the gate's draws

    records: list[ModelRecord] = field(default_factory=list)  # every candidate, by version
    production: int | None = None  # version serving now
    previous: int | None = None  # version that served before it, for rollback
    model: Policy | None = None  # the production model itself
    quarantined: set[int] = field(default_factory=set)  # days no window may read
    volumes: list[int] = field(default_factory=list)  # rows of every day that passed validation
    scores: list[float] = field(default_factory=list)  # every judged candidate's gate metric

    @classmethod
    def start(cls, rng: np.random.Generator) -> PipelineState:
        """A pipeline before its first night, drawing from ``rng`` and a child of it."""
        return cls(rng, rng.spawn(1)[0])
