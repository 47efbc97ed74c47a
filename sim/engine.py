"""The state of one run and the three things that happen to it: a night, a tick, a midnight.

``sim/story.py`` decides *when* these happen (SimPy processes); this module decides *what*
happens, with every tick's sessions handled as NumPy batches.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import scipy.sparse as sp

from agents.choice import respond
from agents.population import churn_probability, next_satisfaction
from policies.base import Policy
from policies.types import ServeContext
from sim.config import RunConfig
from sim.controllers import next_epsilon
from sim.eventlog import EventLog
from sim.faults import draw_failed_nights, draw_outages
from sim.metrics.concentration import share_of
from sim.metrics.daily import DayTally, day_metrics, night_metrics
from sim.pipeline.nightly import NightlyJob, NightOutcome, PolicyFactory
from sim.pipeline.registry import Registry
from sim.seeding import Streams
from sim.serving import Server, Served
from sim.traffic import draw_sessions, round_offsets, session_rounds, tick_shares
from sim.window import positives
from sim.world import World


class Engine:
    """Everything that changes during a run, plus the handlers that change it."""

    def __init__(self, cfg: RunConfig, world: World, factory: PolicyFactory, run_dir: Path,
                 streams: Streams) -> None:
        self.cfg, self.world = cfg, world
        self.rng = {n: streams.rng(n) for n in ("traffic", "choice", "churn", "clock", "faults")}
        self.log = EventLog(Path(run_dir) / "log")
        self.registry = Registry(Path(run_dir) / "models")
        self.job = NightlyJob(cfg.pipeline, cfg.train, cfg.complete_at, self.log, self.registry,
                              factory, streams.rng("pipeline"))
        self.server = Server(cfg.serving.name, cfg.serving.k, cfg.serving.spare,
                             cfg.serving.hybrid_candidates)
        self.outages = draw_outages(cfg.faults, cfg.days, self.rng["faults"])
        self.failed_nights = draw_failed_nights(cfg.faults, cfg.days, self.rng["faults"])
        n_users, n_items = world.population.n_users, world.catalog.n_items
        self.seen = np.zeros((n_users, n_items), dtype=bool)
        self.never_shown = np.ones(n_items, dtype=bool)
        self.item_value = world.mean_item_utility()
        self.tick_hours = cfg.tick_minutes / 60
        self.shares = tick_shares(self.tick_hours, cfg.traffic)
        self.policy: Policy | None = None
        self.next_session = 0
        self.rows: list[dict[str, float | int | str]] = []
        self.ctr: dict[int, float] = {}
        self.positives_by_day: dict[int, np.ndarray] = {}  # per-item positives, for popular lists
        self.night: NightOutcome | None = None
        self.epsilon: float | None = None  # the controller's exploration rate, when adaptive
        self.last_top1_share = float("nan")
        self.today: list[tuple[np.ndarray, np.ndarray]] = []  # today's positives (users, items)
        self.tally = self._new_tally()

    @property
    def ticks_per_day(self) -> int:
        return int(self.shares.size)

    @property
    def shape(self) -> tuple[int, int]:
        return self.seen.shape  # type: ignore[return-value]

    def context(self, day: int, hour: float, recent: sp.csr_matrix | None = None) -> ServeContext:
        return ServeContext(day, hour, self.world.catalog.available(day), self.seen, recent)

    def start_day(self, day: int) -> None:
        """The night before ``day``: the nightly job, then (if a model went live) batch lists."""
        crashed = day in self.failed_nights
        self.night = self.job.run(day, self.shape, self.cfg.serving.k, self._eval_context,
                                  crashed, self.ctr)
        self.policy = self.night.policy
        self._steer(self.policy)
        if self.night.record.status != "job_failed":  # a crashed job leaves yesterday's lists
            active = self.world.population.active_ids()
            self.server.prepare(self.policy, active, self.context(day, 0.0), self._popularity(day))
        self.tally = self._new_tally()
        self.today = []

    def _steer(self, policy: Policy) -> None:
        """Adaptive exploration: carry the controller's epsilon across model deploys."""
        if not self.cfg.controller.adaptive_epsilon:
            return
        if not hasattr(policy, "epsilon"):
            raise TypeError("controller.adaptive_epsilon needs policy.epsilon > 0 (an explorer)")
        if self.epsilon is None:
            self.epsilon = float(policy.epsilon)
        elif self.ctr:
            share = self.last_top1_share
            self.epsilon = next_epsilon(self.epsilon, share, self.cfg.controller)
        policy.epsilon = self.epsilon

    def run_tick(self, day: int, tick: int) -> None:
        """Draw this tick's sessions and serve them, one round of distinct users at a time."""
        pop = self.world.population
        counts = draw_sessions(pop.activity, ~pop.churned, self.shares[tick], self.rng["traffic"])
        start = 24.0 * day + tick * self.tick_hours
        offsets = round_offsets(counts, self.rng["clock"])
        for users, offset in zip(session_rounds(counts), offsets, strict=True):
            staying = ~pop.churned[users]
            if staying.any():
                times = start + offset[staying] * self.tick_hours
                self._serve_round(day, users[staying], times)

    def end_day(self, day: int) -> None:
        """Midnight: seal the day's log (losing rows on a lossy day) and record its metrics."""
        if day in self.cfg.faults.log_loss_days:
            self.log.lose(self.cfg.faults.log_loss_fraction, self.rng["faults"])
        self.log.seal(day)
        available = self.world.catalog.available(day)
        self.never_shown &= self.tally.impressions == 0
        values = day_metrics(self.tally, available, self.item_value, self.never_shown)
        assert self.night is not None
        values |= night_metrics(self.night.record, self.registry.production)
        values["outage_time_share"] = self.outages.hours_down(24.0 * day, 24.0 * (day + 1)) / 24
        release = self.world.catalog.release_day
        fresh = (release > 0) & (release <= day) & (day - release < 7)  # the launch catalog is not new
        values["fresh_impression_share"] = share_of(self.tally.impressions, fresh)
        self.ctr[day] = values["ctr"]
        self.last_top1_share = values["top1_share"]
        if self.epsilon is not None:
            values["epsilon"] = self.epsilon
        logged = positives(self.log.read([day], ["user", "item", "clicked", "completion"]),
                           self.cfg.train.label, self.cfg.complete_at, self.shape)
        self.positives_by_day[day] = np.asarray(logged.sum(axis=0)).ravel()
        self.rows += [{"day": day, "arm": self.cfg.arm, "metric": k, "value": v}
                      for k, v in values.items()]

    def _serve_round(self, day: int, users: np.ndarray, times: np.ndarray) -> None:
        assert self.policy is not None
        ctx = self.context(day, float(times.min()) % 24, self._recent())
        served = self.server.serve(self.policy, users, ctx, self.outages.down(times))
        pop = self.world.population
        resp = respond(pop.taste[users], served.slates.items, self.world.catalog,
                       self.world.choice, self.rng["choice"])
        sessions = self.next_session + np.arange(users.size)
        self.next_session += users.size
        self._log(day, users, sessions, times, served, resp.click_position, resp.completion)
        rows = np.arange(users.size)
        clicked = resp.clicked
        pos = np.maximum(resp.click_position, 0)
        item = served.slates.items[rows, pos]
        self.seen[users[clicked], item[clicked]] = True
        completed = clicked & (resp.completion >= self.cfg.complete_at)
        label = completed if self.cfg.train.label == "complete" else clicked
        self.today.append((users[label], item[label]))
        self.tally.add_sessions(served.slates.items, served.path, clicked, completed,
                                resp.utility[rows, pos], self.world.catalog.genre)
        self._update_users(users, clicked, resp.completion)

    def _update_users(self, users: np.ndarray, clicked: np.ndarray, completion: np.ndarray) -> None:
        """Satisfaction moves with the session; churn is drawn from the new hazard."""
        pop, ucfg = self.world.population, self.cfg.users
        pop.satisfaction[users] = next_satisfaction(pop.satisfaction[users], clicked, completion, ucfg)
        hazard = churn_probability(pop.satisfaction[users], ucfg)
        leaving = users[self.rng["churn"].random(users.size) < hazard]
        pop.churned[leaving] = True
        self.tally.add_churn(pop.segment[leaving])

    def _log(self, day: int, users: np.ndarray, sessions: np.ndarray, times: np.ndarray,
             served: Served, click_position: np.ndarray, completion: np.ndarray) -> None:
        items = served.slates.items
        row, pos = np.nonzero(items >= 0)
        clicked = click_position[row] == pos
        assert self.policy is not None
        self.log.append(
            {"arm": self.cfg.arm, "policy": self.policy.name},
            day=np.full(row.size, day),
            time=times[row],
            user=users[row],
            session=sessions[row],
            position=pos,
            item=items[row, pos],
            model_version=np.full(row.size, self.registry.production or 0),
            serving_path=served.path[row],
            propensity=self._propensity(served, row, pos),
            clicked=clicked,
            completion=np.where(clicked, completion[row], 0.0),
        )

    @staticmethod
    def _propensity(served: Served, row: np.ndarray, pos: np.ndarray) -> np.ndarray:
        prop = served.slates.propensity
        return np.full(row.size, np.nan, np.float32) if prop is None else prop[row, pos]

    def _recent(self) -> sp.csr_matrix | None:
        """Today's positives so far, for real-time paths (batch lists never read them)."""
        if self.cfg.serving.name == "batch" or not self.today:
            return None
        users = np.concatenate([u for u, _ in self.today])
        items = np.concatenate([i for _, i in self.today])
        ones = np.ones(users.size, dtype=np.float32)
        return sp.csr_matrix((ones, (users, items)), shape=self.shape)

    def _eval_context(self, day: int, users: np.ndarray) -> ServeContext:
        """The serving context as it was at the start of ``day`` (for offline evaluation).

        Items watched on ``day`` were unseen before it (seen items are never served again),
        so removing that day's clicks from ``seen`` restores the start-of-day state.
        """
        seen = self.seen.copy()
        frame = self.log.read([day], ["user", "item", "clicked"])
        clicks = frame[frame["clicked"]]
        seen[clicks["user"].to_numpy(), clicks["item"].to_numpy()] = False
        return ServeContext(day, 0.0, self.world.catalog.available(day), seen)

    def _popularity(self, day: int) -> np.ndarray:
        """Positives per item over the training window's days (logged data only)."""
        days = [d for d in range(max(0, day - self.cfg.train.window_days), day)
                if d in self.positives_by_day and d not in self.job.quarantined]
        total = np.zeros(self.world.catalog.n_items)
        for d in days:
            total += self.positives_by_day[d]
        return total

    def _new_tally(self) -> DayTally:
        pop = self.world.population
        active = np.bincount(pop.segment[~pop.churned], minlength=2)
        return DayTally(self.world.catalog.n_items, active)
