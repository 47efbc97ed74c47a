"""The state of one run and the three things that happen to it: a night, a tick, a midnight.

``sim/story.py`` decides *when* these happen (SimPy processes); this module decides *what*
happens, with every tick's sessions handled as NumPy batches.
"""

from __future__ import annotations

import numpy as np

from agents.choice import respond
from agents.population import churn_probability, next_satisfaction
from policies.base import Policy
from policies.types import ServeContext, Slates
from sim.config import RunConfig
from sim.eventlog import EventLog
from sim.metrics.daily import DayTally, day_metrics
from sim.seeding import Streams
from sim.serving import SERVING
from sim.traffic import draw_sessions, session_rounds, tick_shares
from sim.window import build_window
from sim.world import World


class Engine:
    """Everything that changes during a run, plus the handlers that change it."""

    def __init__(
        self, cfg: RunConfig, world: World, policy: Policy, log: EventLog, streams: Streams
    ) -> None:
        self.cfg, self.world, self.policy, self.log = cfg, world, policy, log
        self.serving = SERVING[cfg.serving.name](policy, cfg.serving.k, cfg.serving.spare)
        self.rng = {name: streams.rng(name) for name in ("traffic", "choice", "churn", "clock")}
        n_users, n_items = world.population.n_users, world.catalog.n_items
        self.seen = np.zeros((n_users, n_items), dtype=bool)
        self.never_shown = np.ones(n_items, dtype=bool)
        self.item_value = world.mean_item_utility()
        self.tick_hours = cfg.tick_minutes / 60
        self.shares = tick_shares(self.tick_hours, cfg.traffic)
        self.model_version = 0
        self.next_session = 0
        self.rows: list[dict[str, float | int | str]] = []
        self.tally = self._new_tally()

    @property
    def ticks_per_day(self) -> int:
        return int(self.shares.size)

    def context(self, day: int, hour: float) -> ServeContext:
        return ServeContext(day, hour, self.world.catalog.available(day), self.seen)

    def start_day(self, day: int) -> None:
        """The night before ``day``: fit on days < day, deploy, precompute batch slates."""
        shape = self.seen.shape
        window = build_window(self.log, day, self.cfg.train, self.cfg.complete_at, shape)
        self.policy.fit(window)
        self.model_version += 1
        active = self.world.population.active_ids()
        self.serving.prepare(active, shape[0], self.context(day, 24.0 * day))
        self.tally = self._new_tally()

    def run_tick(self, day: int, tick: int) -> None:
        """Draw this tick's sessions and serve them, one round of distinct users at a time."""
        pop = self.world.population
        counts = draw_sessions(pop.activity, ~pop.churned, self.shares[tick], self.rng["traffic"])
        start = 24.0 * day + tick * self.tick_hours
        for users in session_rounds(counts):
            users = users[~pop.churned[users]]
            if users.size:
                self._serve_round(day, users, start)

    def end_day(self, day: int) -> None:
        """Midnight: seal the day's log and record its metrics."""
        self.log.seal(day)
        available = self.world.catalog.available(day)
        self.never_shown &= self.tally.impressions == 0
        values = day_metrics(self.tally, available, self.item_value, self.never_shown)
        self.rows += [
            {"day": day, "arm": self.cfg.arm, "metric": k, "value": v} for k, v in values.items()
        ]

    def _serve_round(self, day: int, users: np.ndarray, start: float) -> None:
        times = start + self.rng["clock"].random(users.size) * self.tick_hours
        slates = self.serving.serve(users, self.context(day, float(times.min()) % 24))
        pop = self.world.population
        resp = respond(pop.taste[users], slates.items, self.world.catalog, self.world.choice,
                       self.rng["choice"])
        sessions = self.next_session + np.arange(users.size)
        self.next_session += users.size
        self._log_impressions(day, users, sessions, times, slates, resp.click_position,
                              resp.completion)
        clicked = resp.clicked
        item = slates.items[np.arange(users.size), np.maximum(resp.click_position, 0)]
        self.seen[users[clicked], item[clicked]] = True
        completed = clicked & (resp.completion >= self.cfg.complete_at)
        watched_utility = resp.utility[np.arange(users.size), np.maximum(resp.click_position, 0)]
        self.tally.add_sessions(slates.items[slates.items >= 0], clicked, completed, watched_utility)
        self._update_users(users, clicked, resp.completion)

    def _update_users(self, users: np.ndarray, clicked: np.ndarray, completion: np.ndarray) -> None:
        """Satisfaction moves with the session; churn is drawn from the new hazard."""
        pop, ucfg = self.world.population, self.cfg.users
        pop.satisfaction[users] = next_satisfaction(pop.satisfaction[users], clicked, completion, ucfg)
        hazard = churn_probability(pop.satisfaction[users], ucfg)
        leaving = users[self.rng["churn"].random(users.size) < hazard]
        pop.churned[leaving] = True
        self.tally.add_churn(pop.segment[leaving])

    def _log_impressions(
        self,
        day: int,
        users: np.ndarray,
        sessions: np.ndarray,
        times: np.ndarray,
        slates: Slates,
        click_position: np.ndarray,
        completion: np.ndarray,
    ) -> None:
        row, pos = np.nonzero(slates.items >= 0)
        clicked = click_position[row] == pos
        propensity = (
            np.full(row.size, np.nan, dtype=np.float32)
            if slates.propensity is None
            else slates.propensity[row, pos]
        )
        self.log.append(
            {"arm": self.cfg.arm, "policy": self.policy.name, "serving_path": self.serving.path},
            day=np.full(row.size, day),
            time=times[row],
            user=users[row],
            session=sessions[row],
            position=pos,
            item=slates.items[row, pos],
            model_version=np.full(row.size, self.model_version),
            propensity=propensity,
            clicked=clicked,
            completion=np.where(clicked, completion[row], 0.0),
        )

    def _new_tally(self) -> DayTally:
        pop = self.world.population
        active = np.bincount(pop.segment[~pop.churned], minlength=2)
        return DayTally(self.world.catalog.n_items, active)
