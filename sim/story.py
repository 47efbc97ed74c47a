"""The order of events in a run, written once.

1. Build the world (catalog, then population) and the policy from their own streams.
2. Night before day d: fit on days < d, deploy a new model version, precompute slates.
3. Day d: the traffic process ticks every ``tick_minutes``; each tick's sessions are
   served, answered and logged as one batch per round.
4. Midnight: seal day d's log partition and record day d's metrics.
5. Repeat 2–4 for every day; the run ends after the last midnight.

The traffic process waits for the nightly process to open each day, so the order at
midnight is explicit rather than left to same-time event tie-breaks.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import simpy
from threadpoolctl import threadpool_limits

from policies.base import Policy
from policies.registry import make_policy
from sim.arms import TREATMENT, arm_plan
from sim.config import RunConfig
from sim.engine import Engine
from sim.pipeline.nightly import PolicyFactory
from sim.seeding import Streams
from sim.world import build_world

DayCallback = Callable[[int], None]


@dataclass
class RunResult:
    """What a finished simulation hands back."""

    metrics: pd.DataFrame
    entropy: int  # the root seed entropy actually used
    impressions: int
    engine: Engine


def nightly(env: simpy.Environment, eng: Engine, days: int, opened: dict[int, simpy.Event],
            on_day: DayCallback) -> Generator[simpy.Event, None, None]:
    """Open each day after its night's work; close it at the following midnight."""
    for day in range(days):
        eng.start_day(day)
        opened[day].succeed()
        yield env.timeout(24.0 * (day + 1) - env.now)
        eng.end_day(day)
        on_day(day)


def traffic(env: simpy.Environment, eng: Engine, days: int,
            opened: dict[int, simpy.Event]) -> Generator[simpy.Event, None, None]:
    """Tick through each opened day; a tick at time t serves sessions arriving in [t, t + tick)."""
    for day in range(days):
        yield opened[day]
        for tick in range(eng.ticks_per_day):
            yield env.timeout(24.0 * day + tick * eng.tick_hours - env.now)
            eng.run_tick(day, tick)


def simulate(cfg: RunConfig, run_dir: Path, on_day: DayCallback = lambda day: None) -> RunResult:
    """Run the whole story; the log goes to ``run_dir/log``, metrics come back as a frame."""
    streams = Streams(cfg.seed)
    world = build_world(cfg, streams)
    items, truth = world.metadata(), world.truth()

    def factory(policy_cfg: Any, stream: str) -> PolicyFactory:
        def make(version: int) -> Policy:
            """A fresh, unfitted policy for a model version, with its own random stream."""
            return make_policy(policy_cfg, items, streams.rng(f"{stream}/v{version}"), truth)

        return make

    plan = arm_plan(cfg, world.population.n_users, streams.entropy)
    factories = {name: factory(cfg.ab.treatment, "treatment") if name == TREATMENT
                 else factory(cfg.policy, "policy") for name in plan}
    shadow = None if cfg.shadow is None else factory(cfg.shadow, "shadow")
    eng = Engine(cfg, world, factories, plan, Path(run_dir), streams, shadow)
    env = simpy.Environment()
    opened = {day: env.event() for day in range(cfg.days)}
    done = env.process(nightly(env, eng, cfg.days, opened, on_day))
    env.process(traffic(env, eng, cfg.days, opened))
    # the hot path is many small matrix products: a BLAS thread pool costs more than it gives
    # (measured: real-time serving 2x slower with two BLAS threads on two cores)
    with threadpool_limits(limits=1, user_api="blas"):
        env.run(until=done)
    metrics = pd.DataFrame(eng.rows, columns=["day", "arm", "metric", "value"])
    shown = int(metrics.loc[metrics.metric == "impressions", "value"].sum())
    return RunResult(metrics, streams.entropy, shown, eng)
