"""The state of one run and the three things that happen to it: a night, a tick, a midnight.

``sim/story.py`` decides *when* these happen (SimPy processes); this module decides *what*
happens, with every tick's sessions handled as NumPy batches. Per-arm state (policy,
pipeline, serving lists, tally) lives in ``sim/arms.py``; one arm unless an A/B test runs.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from agents.choice import respond
from agents.population import churn_probability, next_satisfaction
from policies.base import Policy
from policies.types import ServeContext
from sim.arms import Arm
from sim.config import RunConfig
from sim.controllers import next_epsilon
from sim.eventlog import EventLog
from sim.faults import draw_failed_nights, draw_outages
from sim.metrics.abtest import AB_ROWS, ab_metrics
from sim.metrics.concentration import share_of
from sim.metrics.daily import DayTally, day_metrics, night_metrics
from sim.pipeline.nightly import NightlyJob, PolicyFactory
from sim.pipeline.registry import Registry
from sim.seeding import Streams
from sim.serving import Served, Server
from sim.shadow import SHADOW, Shadow
from sim.traffic import draw_sessions, round_offsets, session_rounds, tick_shares
from sim.window import positives
from sim.world import World


class Engine:
    """Everything that changes during a run, plus the handlers that change it."""

    def __init__(self, cfg: RunConfig, world: World, factories: dict[str, PolicyFactory],
                 plan: dict[str, np.ndarray], run_dir: Path, streams: Streams,
                 shadow: PolicyFactory | None = None) -> None:
        """``plan`` maps arm names to member masks; ``factories`` builds each arm's models;
        ``shadow``, when given, builds the shadow candidate's."""
        self.cfg, self.world = cfg, world
        self.rng = {n: streams.rng(n) for n in ("traffic", "choice", "churn", "clock", "faults")}
        self.log = EventLog(Path(run_dir) / "log")
        self.outages = draw_outages(cfg.faults, cfg.days, self.rng["faults"])
        self.failed_nights = draw_failed_nights(cfg.faults, cfg.days, self.rng["faults"])
        n_users, n_items = world.population.n_users, world.catalog.n_items
        self.seen = np.zeros((n_users, n_items), dtype=bool)
        self.item_value = world.mean_item_utility()
        self.tick_hours = cfg.tick_minutes / 60
        self.shares = tick_shares(self.tick_hours, cfg.traffic)
        self.arm_of = np.zeros(n_users, dtype=np.int8)  # index into self.arms
        self.arms = [self._arm(i, name, members, factories[name], Path(run_dir), streams, len(plan))
                     for i, (name, members) in enumerate(plan.items())]
        self.shadow = None if shadow is None else Shadow(
            NightlyJob(cfg.pipeline, cfg.train, cfg.complete_at, self.log,
                       Registry(Path(run_dir) / "models" / SHADOW), shadow,
                       streams.rng(f"pipeline/{SHADOW}")),
            self._server(), Path(run_dir))
        self.next_session = 0
        self.rows: list[dict[str, float | int | str]] = []
        self.today: list[tuple[np.ndarray, np.ndarray]] = []  # today's positives (users, items)

    def _arm(self, index: int, name: str, members: np.ndarray, factory: PolicyFactory,
             run_dir: Path, streams: Streams, n_arms: int) -> Arm:
        cfg = self.cfg
        self.arm_of[members] = index
        models = run_dir / "models" if n_arms == 1 else run_dir / "models" / name
        rng = streams.rng("pipeline" if cfg.ab.treatment is None else f"pipeline/{name}")
        own = name if cfg.ab.training == "per_arm" and n_arms > 1 else None
        job = NightlyJob(cfg.pipeline, cfg.train, cfg.complete_at, self.log, Registry(models),
                         factory, rng, arm=own)
        return Arm(name, members, job, self._server(), self._new_tally(members),
                   never_shown=np.ones(self.world.catalog.n_items, dtype=bool),
                   ever_served=np.zeros(members.size, dtype=bool))

    def _server(self) -> Server:
        serving = self.cfg.serving
        return Server(serving.name, serving.k, serving.spare, serving.hybrid_candidates)

    @property
    def policy(self) -> Policy | None:
        """The first arm's serving model (the only one without an A/B test)."""
        return self.arms[0].policy

    @property
    def registry(self) -> Registry:
        return self.arms[0].registry

    def registry_frame(self) -> pd.DataFrame:
        """Every arm's model records, one table with an ``arm`` column."""
        frames = [arm.registry.frame().assign(arm=arm.name) for arm in self.arms]
        if self.shadow is not None:
            frames.append(self.shadow.job.registry.frame().assign(arm=SHADOW))
        return pd.concat(frames, ignore_index=True)

    @property
    def ticks_per_day(self) -> int:
        return int(self.shares.size)

    @property
    def shape(self) -> tuple[int, int]:
        return self.seen.shape  # type: ignore[return-value]

    def context(self, day: int, hour: float, recent: sp.csr_matrix | None = None) -> ServeContext:
        return ServeContext(day, hour, self.world.catalog.available(day), self.seen, recent)

    def start_day(self, day: int) -> None:
        """The night before ``day``: each arm's nightly job, then (if a model went live) lists."""
        crashed = day in self.failed_nights
        active = self.world.population.active_ids()
        for arm in self.arms:
            arm.night = arm.job.run(day, self.shape, self.cfg.serving.k, self._eval_context,
                                    crashed, arm.ctr)
            arm.policy = arm.night.policy
            self._steer(arm)
            if arm.night.record.status != "job_failed":  # a crashed job leaves yesterday's lists
                users = active[arm.members[active]]
                arm.server.prepare(arm.policy, users, self.context(day, 0.0),
                                   self._popularity(arm, day))
            arm.tally = self._new_tally(arm.members)
        if self.shadow is not None:
            self.shadow.start_day(day, self.shape, self.cfg.serving.k, self._eval_context,
                                  crashed, active, self.context(day, 0.0),
                                  self._whole_log_popularity(day))
        self.today = []

    def _steer(self, arm: Arm) -> None:
        """Adaptive exploration: carry the controller's epsilon across model deploys."""
        if not self.cfg.controller.adaptive_epsilon:
            return
        policy = arm.policy
        if not hasattr(policy, "epsilon"):
            raise TypeError("controller.adaptive_epsilon needs policy.epsilon > 0 (an explorer)")
        if arm.epsilon is None:
            arm.epsilon = float(policy.epsilon)
        elif arm.ctr:
            arm.epsilon = next_epsilon(arm.epsilon, arm.last_top1_share, self.cfg.controller)
        policy.epsilon = arm.epsilon

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
        for arm in self.arms:
            self._record_day(arm, day)
        if len(self.arms) > 1:
            self.rows += self._rows(day, AB_ROWS, ab_metrics(self.arms, self.cfg.ab.share))
        if self.shadow is not None:
            values = self.shadow.end_day(day)
            assert self.shadow.record is not None
            values |= night_metrics(self.shadow.record, self.shadow.job.registry.production)
            self.rows += self._rows(day, SHADOW, values)

    def _record_day(self, arm: Arm, day: int) -> None:
        available = self.world.catalog.available(day)
        arm.never_shown &= arm.tally.impressions == 0
        values = day_metrics(arm.tally, available, self.item_value, arm.never_shown)
        assert arm.night is not None
        values |= night_metrics(arm.night.record, arm.registry.production)
        values["outage_time_share"] = self.outages.hours_down(24.0 * day, 24.0 * (day + 1)) / 24
        release = self.world.catalog.release_day
        fresh = (release > 0) & (release <= day) & (day - release < 7)  # the launch catalog is not new
        values["fresh_impression_share"] = share_of(arm.tally.impressions, fresh)
        values["active_share"] = values["active_users"] / max(int(arm.members.sum()), 1)
        arm.ctr[day] = values["ctr"]
        arm.last_top1_share = values["top1_share"]
        if arm.epsilon is not None:
            values["epsilon"] = arm.epsilon
        logged = positives(self.log.read([day], ["user", "item", "clicked", "completion"],
                                         arm=arm.job.arm),
                           self.cfg.train.label, self.cfg.complete_at, self.shape)
        arm.positives_by_day[day] = np.asarray(logged.sum(axis=0)).ravel()
        self.rows += self._rows(day, arm.name, values)

    @staticmethod
    def _rows(day: int, arm: str, values: dict[str, float]) -> list[dict[str, float | int | str]]:
        return [{"day": day, "arm": arm, "metric": k, "value": v} for k, v in values.items()]

    def _serve_round(self, day: int, users: np.ndarray, times: np.ndarray) -> None:
        """Serve one round of distinct users, arm by arm.

        Real-time paths see today's positives so far: the whole log's when arms train on
        the pooled log, only their own arm's when they train per arm. The shadow, trained
        on the whole log, always sees all of them.
        """
        per_arm = self.arms[0].job.arm is not None
        everyone = None if per_arm and self.shadow is None else self._recent()
        pooled = self.context(day, float(times.min()) % 24, everyone)
        arm_index = self.arm_of[users]
        for index, arm in enumerate(self.arms):
            mine = arm_index == index
            if not mine.any():
                continue
            ctx = replace(pooled, recent=self._recent(index)) if per_arm else pooled
            self._serve_arm(arm, day, users[mine], times[mine], ctx, pooled)

    def _serve_arm(self, arm: Arm, day: int, users: np.ndarray, times: np.ndarray,
                   ctx: ServeContext, shadow_ctx: ServeContext) -> None:
        assert arm.policy is not None
        down = self.outages.down(times)
        served = arm.server.serve(arm.policy, users, ctx, down)
        arm.ever_served[users] = True
        pop = self.world.population
        resp = respond(pop.taste[users], served.slates.items, self.world.catalog,
                       self.world.choice, self.rng["choice"])
        sessions = self.next_session + np.arange(users.size)
        self.next_session += users.size
        self._log(arm, day, users, sessions, times, served, resp.click_position, resp.completion)
        rows = np.arange(users.size)
        clicked = resp.clicked
        pos = np.maximum(resp.click_position, 0)
        item = served.slates.items[rows, pos]
        if self.shadow is not None:
            self.shadow.observe(day, users, times, sessions, shadow_ctx, down,
                                served.slates.items, np.where(clicked, item, -1))
        self.seen[users[clicked], item[clicked]] = True
        completed = clicked & (resp.completion >= self.cfg.complete_at)
        label = completed if self.cfg.train.label == "complete" else clicked
        self.today.append((users[label], item[label]))
        arm.tally.add_sessions(users, served.slates.items, served.path, clicked, completed,
                               resp.utility[rows, pos], self.world.catalog.genre,
                               watched=resp.completion)
        self._update_users(arm, users, clicked, resp.completion)

    def _update_users(self, arm: Arm, users: np.ndarray, clicked: np.ndarray,
                      completion: np.ndarray) -> None:
        """Satisfaction moves with the session; churn is drawn from the new hazard."""
        pop, ucfg = self.world.population, self.cfg.users
        pop.satisfaction[users] = next_satisfaction(pop.satisfaction[users], clicked, completion, ucfg)
        hazard = churn_probability(pop.satisfaction[users], ucfg)
        leaving = users[self.rng["churn"].random(users.size) < hazard]
        pop.churned[leaving] = True
        arm.tally.add_churn(pop.segment[leaving])

    def _log(self, arm: Arm, day: int, users: np.ndarray, sessions: np.ndarray, times: np.ndarray,
             served: Served, click_position: np.ndarray, completion: np.ndarray) -> None:
        items = served.slates.items
        row, pos = np.nonzero(items >= 0)
        clicked = click_position[row] == pos
        assert arm.policy is not None
        self.log.append(
            {"arm": arm.name, "policy": arm.policy.name},
            day=np.full(row.size, day),
            time=times[row],
            user=users[row],
            session=sessions[row],
            position=pos,
            item=items[row, pos],
            model_version=np.full(row.size, arm.registry.production or 0),
            serving_path=served.path[row],
            propensity=self._propensity(served, row, pos),
            clicked=clicked,
            completion=np.where(clicked, completion[row], 0.0),
        )

    @staticmethod
    def _propensity(served: Served, row: np.ndarray, pos: np.ndarray) -> np.ndarray:
        prop = served.slates.propensity
        return np.full(row.size, np.nan, np.float32) if prop is None else prop[row, pos]

    def _recent(self, arm_index: int | None = None) -> sp.csr_matrix | None:
        """Today's positives so far (of one arm's users when ``arm_index`` is given), for
        real-time paths; batch lists never read them."""
        if self.cfg.serving.name == "batch" or not self.today:
            return None
        users = np.concatenate([u for u, _ in self.today])
        items = np.concatenate([i for _, i in self.today])
        if arm_index is not None:
            own = self.arm_of[users] == arm_index
            users, items = users[own], items[own]
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

    def _popularity(self, arm: Arm, day: int) -> np.ndarray:
        """Positives per item over the training window's days (the arm's logged data only)."""
        days = [d for d in range(max(0, day - self.cfg.train.window_days), day)
                if d in arm.positives_by_day and d not in arm.job.quarantined]
        total = np.zeros(self.world.catalog.n_items)
        for d in days:
            total += arm.positives_by_day[d]
        return total

    def _whole_log_popularity(self, day: int) -> np.ndarray:
        """The popular fallback over every arm's data (arms training per arm split the log
        between them; pooled arms each hold all of it)."""
        if self.arms[0].job.arm is None:
            return self._popularity(self.arms[0], day)
        return np.sum([self._popularity(arm, day) for arm in self.arms], axis=0)

    def _new_tally(self, members: np.ndarray) -> DayTally:
        pop = self.world.population
        active = np.bincount(pop.segment[~pop.churned & members], minlength=2)
        return DayTally(self.world.catalog.n_items, active, pop.n_users)
