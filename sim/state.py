"""Everything that changes during a run, as plain typed values.

``RunState`` is the whole of it at any moment the story pauses (for instance at midnight
of day d): the users' state, the watched memory, each arm's running state (its pipeline's
included), the log cursor, today's positives so far, the monitors' alarms, the users the
churn model flagged (``sim/retention.py``) and the random streams, whose positions live
in their bit generators. The functions that change state take it as an
argument; no component keeps a private copy of anything here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from recloop.agents.users import UserState
from recloop.policies.base import Policy
from recloop.policies.watched import Watched
from recloop.sim.alarms import AlarmState
from recloop.sim.metrics.agreement import Agreement
from recloop.sim.metrics.daily import DayTally
from recloop.sim.metrics.inputs import Fidelity
from recloop.sim.pipeline.state import ModelRecord, PipelineState
from recloop.sim.serving import ServingLists


@dataclass
class ServingState:
    """One serving arm's running state."""

    members: np.ndarray  # bool[n_users]: the arm's users
    tally: DayTally  # today's counts
    never_shown: np.ndarray  # bool[n_items]: never shown to this arm so far
    ever_served: np.ndarray  # bool[n_users]: had a session so far (the SRM check's units)
    pipeline: PipelineState
    policy: Policy | None = None  # the model serving today
    night: ModelRecord | None = None  # what the night before today decided
    lists: ServingLists = field(default_factory=ServingLists)  # what the night precomputed
    epsilon: float | None = None  # the controller's exploration rate, when adaptive
    last_top1_share: float = float("nan")
    ctr: dict[int, float] = field(default_factory=dict)  # online CTR per closed day
    positives_by_day: dict[int, np.ndarray] = field(default_factory=dict)  # per item
    fidelity: Fidelity | None = None  # tonight's model against ground truth


@dataclass
class ShadowState:
    """A shadow arm's running state: its pipeline and today's agreement with production."""

    pipeline: PipelineState
    agreement: Agreement = field(default_factory=Agreement)
    policy: Policy | None = None
    night: ModelRecord | None = None
    lists: ServingLists = field(default_factory=ServingLists)
    positives_by_day: dict[int, np.ndarray] = field(default_factory=dict)  # whole log, per item


ArmState = ServingState | ShadowState


@dataclass
class Pending:
    """Requests for another slate within a visit, not served yet (at most one per user)."""

    users: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    times: np.ndarray = field(default_factory=lambda: np.zeros(0))
    starts: np.ndarray = field(default_factory=lambda: np.zeros(0))  # visits' start times

    def add(self, users: np.ndarray, times: np.ndarray, starts: np.ndarray) -> None:
        self.users = np.concatenate([self.users, users])
        self.times = np.concatenate([self.times, times])
        self.starts = np.concatenate([self.starts, starts])

    def take_due(self, before: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Remove and return the requests due before ``before``, ordered by user id."""
        due = self.times < before
        order = np.flatnonzero(due)[np.argsort(self.users[due], kind="stable")]
        out = self.users[order], self.times[order], self.starts[order]
        self.users, self.times, self.starts = self.users[~due], self.times[~due], self.starts[~due]
        return out


@dataclass
class RunState:
    """The run at one moment."""

    users: UserState
    seen: Watched  # [n_users, n_items]: watched (clicked) so far (``policies.watched``)
    arms: dict[str, ArmState]
    streams: dict[str, np.random.Generator]  # the shared world's streams, by purpose
    plays: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))  # per item
    next_session: int = 0  # the log cursor: id of the next session
    pending: Pending = field(default_factory=Pending)  # further slates asked for today
    requests_today: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    today: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)  # (users, items)
    monitors: dict[str, AlarmState] = field(default_factory=dict)  # alarms, by monitor
    at_risk: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))  # flagged

    @property
    def shape(self) -> tuple[int, int]:
        """(users, items)."""
        return self.seen.shape
