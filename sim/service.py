"""The service every arm works in: the run's config, the hidden world, the log, the state.

Arms ask it for what they share: a serving context as of a moment, today's positives so
far, the day's positives per item from the log, a fresh tally, the next session ids. It
holds no state of its own beyond references; everything that changes is in ``RunState``.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from recloop.agents.draws import Draws, KeyedDraws, StreamDraws
from recloop.agents.users import Users
from recloop.conf.distinct import distinct
from recloop.policies.seen import SeenRows
from recloop.policies.types import ServeContext
from recloop.sim.config import RunConfig
from recloop.sim.eventlog import EventLog
from recloop.sim.faults import Outages
from recloop.sim.metrics.daily import DayTally
from recloop.sim.state import RunState
from recloop.sim.window import positives
from recloop.sim.world import World


class Service:
    """Shared world, log and state, as the arms see them."""

    def __init__(self, cfg: RunConfig, world: World, log: EventLog, state: RunState,
                 outages: Outages, fidelity_users: np.ndarray,
                 keys: dict[str, np.uint64]) -> None:
        """``fidelity_users``: the fixed sample every night's fidelity is measured on;
        ``keys``: per purpose, the hash key of the users' draws (empty: component streams)."""
        self.cfg, self.world, self.log, self.state, self.outages = cfg, world, log, state, outages
        self.fidelity_users, self.keys = fidelity_users, keys
        self.users = Users(world.population, world.catalog, world.choice, cfg.users)
        self.item_value = world.mean_item_utility()

    def context(self, day: int, hour: float, recent: sp.csr_matrix | None = None) -> ServeContext:
        """The serving context now: released items, everything watched so far."""
        return ServeContext(day, hour, self.world.catalog.available(day), self.state.seen, recent)

    def eval_context(self, day: int, users: np.ndarray) -> ServeContext:
        """The serving context as it was at the start of ``day``, for ``users`` only (offline
        evaluation reads no one else's row, see ``policies.seen``).

        Items watched on ``day`` were unseen before it (seen items are never served again),
        so removing that day's clicks from the users' rows restores their start-of-day state.
        """
        ctx = self.rows_context(day, distinct(users))
        frame = self.log.read([day], ["user", "item", "clicked"])
        clicks = frame[frame["clicked"]]
        who, what = clicks["user"].to_numpy(), clicks["item"].to_numpy()
        mine = ctx.seen.holds(who)
        ctx.seen[who[mine], what[mine]] = False
        return ctx

    def rows_context(self, day: int, users: np.ndarray) -> ServeContext:
        """The serving context now with a copy of ``users``' watched rows only (sorted,
        distinct): all a measurement of those users reads, and nothing the day changes."""
        seen = SeenRows(users, self.state.seen[users], self.state.shape[0])
        return ServeContext(day, 0.0, self.world.catalog.available(day), seen)

    def recent(self, members: np.ndarray | None = None) -> sp.csr_matrix | None:
        """Today's positives so far (of ``members``' users only, when given), for real-time
        paths; batch lists never read them."""
        today = self.state.today
        if self.cfg.serving.name == "batch" or not today:
            return None
        users = np.concatenate([u for u, _ in today])
        items = np.concatenate([i for _, i in today])
        if members is not None:
            own = members[users]
            users, items = users[own], items[own]
        ones = np.ones(users.size, dtype=np.float32)
        return sp.csr_matrix((ones, (users, items)), shape=self.state.shape)

    def item_positives(self, day: int, arm: str | None) -> np.ndarray:
        """Positives per item on sealed ``day`` (one arm's rows, or the whole log's)."""
        frame = self.log.read([day], ["user", "item", "clicked", "completion"], arm=arm)
        matrix = positives(frame, self.cfg.train.label, self.cfg.complete_at, self.state.shape)
        return np.asarray(matrix.sum(axis=0)).ravel()

    def popularity(self, by_day: dict[int, np.ndarray], day: int,
                   quarantined: set[int]) -> np.ndarray:
        """Positives per item over the training window's days before ``day``."""
        days = [d for d in range(max(0, day - self.cfg.train.window_days), day)
                if d in by_day and d not in quarantined]
        total = np.zeros(self.world.catalog.n_items)
        for d in days:
            total += by_day[d]
        return total

    def new_tally(self, members: np.ndarray) -> DayTally:
        """An empty tally for a day, with the members still active as it begins."""
        active = self.state.users.active & members
        at_start = np.bincount(self.world.population.segment[active], minlength=2)
        return DayTally(self.world.catalog.n_items, at_start, self.world.population.n_users)

    def draws(self, purpose: str, day: int, users: np.ndarray) -> Draws:
        """The users' draws for ``purpose``: keyed per user and request (common random
        numbers) or, by default, the purpose's component stream."""
        if self.keys:
            return KeyedDraws(self.keys[purpose], users, day, self.state.requests_today[users])
        return StreamDraws(self.state.streams[purpose], users.size)

    def session_ids(self, n: int) -> np.ndarray:
        """The next ``n`` session ids (advances the log cursor)."""
        start = self.state.next_session
        self.state.next_session += n
        return start + np.arange(n)
