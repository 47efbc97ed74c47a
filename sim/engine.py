"""The run's pieces composed: the shared service, the arms, and the three things that happen
to them: a night, a round of requests, a midnight.

``sim/story.py`` decides *when* these happen (SimPy processes); each arm decides what it
does (``sim/serving_arm.py``, ``sim/shadow.py``); this module hands every round to the
arms in order, then moves the shared world on: what users watched, today's positives and
the users' new state. Every tick's sessions are NumPy batches, one round of distinct users
at a time.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

from recloop.agents.users import daily_churn
from recloop.agents.visits import cohort, visit_rate
from recloop.sim.config import ShardConfig
from recloop.sim.controllers import next_epsilon
from recloop.sim.rounds import Arm, Outcome, Round
from recloop.sim.service import Service
from recloop.sim.shards import Shards
from recloop.sim.state import RunState, ServingState
from recloop.sim.traffic import (
    draw_sessions,
    keyed_offsets,
    keyed_sessions,
    round_offsets,
    session_rounds,
)

Row = dict[str, float | int | str]


class Closer(Protocol):
    """Anything with a row of metrics at midnight: an arm or the A/B readout."""

    name: str

    def close_day(self, day: int) -> dict[str, float]:
        """The day's metric values."""


class Engine:
    """Arms over a shared service; the rows of the metrics table as they close."""

    def __init__(self, service: Service, arms: Sequence[Arm], closers: Sequence[Closer]) -> None:
        """``closers`` give the metrics table its rows, in order, every midnight."""
        self.service, self.arms, self.closers = service, list(arms), list(closers)
        self.rows: list[Row] = []
        self.needs_pooled_recent = any(arm.reads_pooled_recent for arm in self.arms)
        self.shards = Shards(ShardConfig())  # the run's pool, set while it runs

    @property
    def state(self) -> RunState:
        return self.service.state

    def night(self, day: int, crashed: bool) -> None:
        """The night before ``day``: the day's sign-ups join, then every arm's nightly job
        and lists."""
        cfg = self.service.cfg.users
        self.state.users.joined[cohort(day, cfg.n_users, cfg.visits)] = True
        self.state.requests_today[:] = 0
        for arm in self.arms:
            arm.night(day, crashed)
        self.state.today = []

    def run_tick(self, day: int, tick: int, tick_hours: float, share: float) -> None:
        """Draw this tick's sessions and serve them, one round of distinct users at a time."""
        state, streams = self.state, self.state.streams
        users, cfg = state.users, self.service.cfg.users
        rate = visit_rate(self.service.world.population.activity, users.satisfaction,
                          cfg.satisfaction_init, cfg.visits)
        keys = self.service.keys
        if keys:
            counts = keyed_sessions(keys["traffic"], rate, users.active, share, day, tick)
            offsets = keyed_offsets(keys["clock"], counts, day, tick)
        else:
            counts = draw_sessions(rate, users.active, share, streams["traffic"])
            offsets = round_offsets(counts, streams["clock"])
        start = 24.0 * day + tick * tick_hours
        for users, offset in zip(session_rounds(counts), offsets, strict=True):
            # a user still in a visit (another slate asked for) does not start a new one
            # a table of user ids: NumPy's other way hashes the pending ids (conf/distinct.py)
            staying = state.users.active[users] & ~np.isin(users, state.pending.users,
                                                           kind="table")
            if staying.any():
                times = start + offset[staying] * tick_hours
                self.run_round(day, users[staying], times, times, first=True)
        self._continue_visits(day, start + tick_hours)

    def _continue_visits(self, day: int, tick_end: float) -> None:
        """Serve the further slates asked for within this tick (each may ask for another)."""
        while True:
            users, times, starts = self.state.pending.take_due(tick_end)
            if users.size == 0:
                return
            self.run_round(day, users, times, starts, first=False)

    def run_round(self, day: int, users: np.ndarray, times: np.ndarray, starts: np.ndarray,
                  first: bool) -> None:
        """Every arm serves its users, every arm sees what was served, then the world moves.

        ``starts`` are the visits' start times; ``first`` says the requests open visits.
        """
        svc = self.service
        recent = svc.recent() if self.needs_pooled_recent else None
        ctx = svc.context(day, float(times.min()) % 24, recent)
        opens = np.full(users.size, first)
        rnd = Round(day, users, times, svc.outages.down(times), ctx, starts, opens, self.shards)
        outcomes = [out for arm in self.arms if (out := arm.serve(rnd)) is not None]
        for arm in self.arms:
            arm.observe(outcomes, rnd)
        for out in outcomes:
            self._move_on(out)

    def _move_on(self, out: Outcome) -> None:
        """The world after a served batch: watched items, today's positives, users' state."""
        state, cfg = self.state, self.service.cfg
        resp = out.responses
        clicked, item = resp.clicked, out.clicked_item
        state.seen[out.users[clicked], item[clicked]] = True
        completed = clicked & (resp.completion >= cfg.complete_at)
        label = completed if cfg.train.label == "complete" else clicked
        state.today.append((out.users[label], item[label]))
        state.plays += np.bincount(item[clicked], minlength=state.plays.size)
        state.users.put(out.users, out.after)
        if out.next is not None and out.starts is not None:
            rows = out.next.rows
            state.pending.add(out.users[rows], out.next.times, out.starts[rows])
        if out.organic is not None:
            self._move_on_organic(out)

    def _move_on_organic(self, out: Outcome) -> None:
        """Organic plays are watched too: seen, today's positives, the service's plays."""
        state, cfg, org = self.state, self.service.cfg, out.organic
        assert org is not None
        users = out.users[org.rows]
        state.seen[users, org.items] = True
        label = org.completion >= cfg.complete_at if cfg.train.label == "complete" else \
            np.ones(users.size, dtype=bool)
        state.today.append((users[label], org.items[label]))
        state.plays += np.bincount(org.items, minlength=state.plays.size)

    def close_day(self, day: int) -> None:
        """Midnight: daily churn (when drawn per day), seal the day's log, then every
        closer's row of metrics."""
        if self.service.cfg.users.visits.churn_per == "day":
            self._churn_at_midnight(day)
        self.service.log.seal(day)
        for closer in self.closers:
            values = closer.close_day(day)
            self.rows += [{"day": day, "arm": closer.name, "metric": k, "value": v}
                          for k, v in values.items()]

    def _churn_at_midnight(self, day: int) -> None:
        """Each active user leaves with the day's hazard; arms count their own leavers."""
        users, svc = self.state.users, self.service
        ids = users.active_ids()
        leavers = ids[daily_churn(svc.users, users, ids, svc.draws("churn", day, ids))]
        users.churned[leavers] = True
        for arm in self.state.arms.values():
            if isinstance(arm, ServingState):
                arm.tally.add_churn(svc.users.segments(leavers[arm.members[leavers]]))

    def steer(self) -> None:
        """The adaptive controller, after a day closed: each explorer's next epsilon."""
        cfg = self.service.cfg.controller
        if not cfg.adaptive_epsilon:
            return
        for arm in self.state.arms.values():
            if isinstance(arm, ServingState) and arm.epsilon is not None:
                arm.epsilon = next_epsilon(arm.epsilon, arm.last_top1_share, cfg)
