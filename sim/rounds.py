"""What passes between the engine and its arms: a round of requests, what an arm served.

Each round holds distinct users (one session each), so arms can serve it as one batch.
Every arm answers the same three calls; an arm that serves nobody (a shadow) returns no
outcome from ``serve`` and reads the others' outcomes in ``observe``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Protocol

import numpy as np

from recloop.agents.choice import Responses
from recloop.agents.continuation import NextRequests
from recloop.agents.organic import OrganicPlays
from recloop.agents.users import UserState
from recloop.policies.types import ServeContext
from recloop.sim.config import ShardConfig
from recloop.sim.serving import Served
from recloop.sim.shards import Shards


@dataclass(frozen=True)
class Round:
    """One batch of requests from distinct users."""

    day: int
    users: np.ndarray  # int[n], distinct
    times: np.ndarray  # float[n], run hours
    down: np.ndarray  # bool[n]: the model server is down at the request's time
    ctx: ServeContext  # the pooled context: ``recent`` holds everyone's positives today
    starts: np.ndarray  # float[n]: when each request's visit began
    first: np.ndarray  # bool[n]: the request opens its visit (a session, in the tallies)
    shards: Shards = field(default_factory=lambda: Shards(ShardConfig()))  # who answers it


@dataclass(frozen=True)
class Outcome:
    """What one arm served to its users in a round and how they responded."""

    arm: str
    users: np.ndarray
    times: np.ndarray
    sessions: np.ndarray  # session ids
    down: np.ndarray
    served: Served
    responses: Responses
    after: UserState  # the users' rows after their session
    organic: OrganicPlays | None = None  # plays the sessions brought from outside
    next: NextRequests | None = None  # who asks for another slate, and when
    starts: np.ndarray | None = None  # when each visit began (with ``next``)

    @cached_property
    def clicked_item(self) -> np.ndarray:
        """The item each session clicked, -1 for none."""
        rows = np.arange(self.users.size)
        item = self.served.slates.items[rows, np.maximum(self.responses.click_position, 0)]
        return np.where(self.responses.clicked, item, -1)


class Arm(Protocol):
    """An arm owns its night, its serving and its close of day."""

    name: str
    reads_pooled_recent: bool  # its context needs everyone's positives of today

    def night(self, day: int, crashed: bool) -> None:
        """Before ``day``: train, gate, deploy, precompute lists."""

    def serve(self, rnd: Round) -> Outcome | None:
        """Serve the round's users who belong to this arm."""

    def observe(self, outcomes: list[Outcome], rnd: Round) -> None:
        """See what every arm served in the round (before the world moves on)."""

    def close_day(self, day: int) -> dict[str, float]:
        """Midnight: this arm's metric values for the day."""
