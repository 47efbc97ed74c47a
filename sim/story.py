"""The order of events in a run, written once.

1. Build the world (catalog, then population), the fault plan, the run state, the arms.
2. Night before day d: if the plan says the night crashes, each arm keeps yesterday's model
   and lists; otherwise each arm fits on days < d, gates, deploys and precomputes slates.
3. Day d: the traffic process ticks every ``tick_minutes``; each tick's sessions are
   served, answered and logged as one batch per round of distinct users; further slates
   asked for within a visit are served in the tick they fall in. A request that falls
   inside a model-server outage is answered by the fallback chain.
4. Midnight: on a lossy day the buffered log loses rows; with churn drawn per day, active
   users leave; day d's partition is sealed; each arm, the A/B readout and the shadow
   record day d's metrics.
5. After midnight the controller, when adaptive, sets each explorer's next epsilon from the
   closed day; the run's state is checkpointed (``sim/checkpoint.py``); then the next night
   starts. Repeat 2–5; the run ends after the last midnight. A resumed run starts at step 2
   of the day after its checkpoint.

The processes wait on each other's events (a day opens after its night; a night starts
after the controller has read the last day), so the order at midnight is explicit rather
than left to same-time tie-breaks. Faults are drawn up front from their own stream, so
every policy faces the same failures; outages start and end inside ticks, so a request
checks its own arrival time against them instead of waiting for an outage process.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import simpy
from threadpoolctl import threadpool_limits

from recloop.policies.base import Policy
from recloop.sim import checkpoint
from recloop.sim.assemble import build_engine, initial_state
from recloop.sim.checkpoint import BEFORE_FIRST_NIGHT, Checkpoint
from recloop.sim.config import RunConfig
from recloop.sim.engine import Engine
from recloop.sim.eventlog import EventLog
from recloop.sim.faults import FaultPlan, plan_faults
from recloop.sim.metrics.catalogue import IMPRESSIONS
from recloop.sim.seeding import Streams
from recloop.sim.serving_arm import ServingArm
from recloop.sim.shards import shard_pool
from recloop.sim.state import RunState
from recloop.sim.traffic import tick_shares
from recloop.sim.world import World, build_world

DayCallback = Callable[[int], None]


@dataclass
class RunResult:
    """What a finished simulation hands back: data, not the machinery that made it."""

    metrics: pd.DataFrame
    registry: pd.DataFrame  # every arm's model records, with an ``arm`` column
    entropy: int  # the root seed entropy actually used
    impressions: int
    arms: list[str]  # the serving arms, in order
    world: World  # the hidden world the run was simulated in
    log: EventLog  # the sealed partitions
    state: RunState  # the state after the last midnight

    def policy(self, arm: str | None = None) -> Policy:
        """The model serving ``arm`` (the first serving arm by default) at the end."""
        policy = self.state.arms[arm or self.arms[0]].policy
        assert policy is not None
        return policy


@dataclass(frozen=True)
class Clock:
    """Events that order a run: day d opened, day d closed, the controller done with d."""

    opened: list[simpy.Event]
    closed: list[simpy.Event]
    steered: list[simpy.Event]

    @classmethod
    def new(cls, env: simpy.Environment, days: int) -> Clock:
        return cls(*([env.event() for _ in range(days)] for _ in range(3)))


Saver = Callable[[int], None]  # writes the checkpoint of the day just closed


def nightly(env: simpy.Environment, eng: Engine, faults: FaultPlan, days: range, clock: Clock,
            on_day: DayCallback, save: Saver) -> Generator[simpy.Event, None, None]:
    """Open each day after its night's work; close it at the following midnight; once the
    controller has read a closed day, checkpoint the run."""
    state = eng.state
    for day in days:
        if day > days.start:
            yield clock.steered[day - 1]
            save(day - 1)
        eng.night(day, crashed=day in faults.failed_nights)
        clock.opened[day].succeed()
        yield env.timeout(24.0 * (day + 1) - env.now)
        if day in faults.lossy_days:
            eng.service.log.lose(faults.loss_fraction, state.streams["faults"])
        eng.close_day(day)
        clock.closed[day].succeed()
        on_day(day)
    if len(days):
        yield clock.steered[days.stop - 1]
        save(days.stop - 1)


def traffic(env: simpy.Environment, eng: Engine, cfg: RunConfig, days: range,
            clock: Clock) -> Generator[simpy.Event, None, None]:
    """Tick through each opened day; a tick at time t serves sessions arriving in [t, t + tick)."""
    tick_hours = cfg.tick_minutes / 60
    shares = tick_shares(tick_hours, cfg.traffic)
    for day in days:
        yield clock.opened[day]
        for tick, share in enumerate(shares):
            yield env.timeout(24.0 * day + tick * tick_hours - env.now)
            eng.run_tick(day, tick, tick_hours, share)


def controller(eng: Engine, days: range, clock: Clock) -> Generator[simpy.Event, None, None]:
    """After each midnight: the adaptive controller reads the closed day."""
    for day in days:
        yield clock.closed[day]
        eng.steer()
        clock.steered[day].succeed()


def simulate(cfg: RunConfig, run_dir: Path, on_day: DayCallback = lambda day: None,
             resume: Checkpoint | None = None) -> RunResult:
    """Run the whole story; the log goes to ``run_dir/log``, metrics come back as a frame.

    ``resume``: a checkpoint of this run (``sim/checkpoint.py``) to continue from instead
    of starting over; with ``cfg.checkpoints`` one is written after every midnight.
    """
    start = resume if resume is not None else begin(cfg, Path(run_dir))
    eng, faults = start.engine, start.faults

    def save(day: int) -> None:
        if cfg.checkpoints:
            checkpoint.save(Checkpoint(day, eng, faults, start.entropy), Path(run_dir))

    if resume is None:
        save(BEFORE_FIRST_NIGHT)
    days = range(start.next_day, cfg.days)
    env = simpy.Environment(initial_time=24.0 * days.start)
    clock = Clock.new(env, cfg.days)
    done = env.process(nightly(env, eng, faults, days, clock, on_day, save))
    env.process(traffic(env, eng, cfg, days, clock))
    env.process(controller(eng, days, clock))
    # the hot path is many small matrix products: a BLAS thread pool costs more than it gives
    # (measured: real-time serving 2x slower with two BLAS threads on two cores)
    with threadpool_limits(limits=1, user_api="blas"), shard_pool(cfg.shards) as shards:
        eng.shards = shards
        env.run(until=done)
    return result_of(eng, start.entropy)


def begin(cfg: RunConfig, run_dir: Path) -> Checkpoint:
    """The run before its first night: world, state, fault plan and engine built."""
    streams = Streams(cfg.seed)
    world = build_world(cfg, streams)
    state = initial_state(cfg, world, streams)
    faults = plan_faults(cfg.faults, cfg.days, state.streams["faults"])
    eng = build_engine(cfg, world, streams, state, run_dir, faults.outages)
    return Checkpoint(BEFORE_FIRST_NIGHT, eng, faults, streams.entropy)


def result_of(eng: Engine, entropy: int) -> RunResult:
    """The finished run as data."""
    metrics = pd.DataFrame(eng.rows, columns=["day", "arm", "metric", "value"])
    shown = int(metrics.loc[metrics.metric == IMPRESSIONS, "value"].sum())
    serving = [arm.name for arm in eng.arms if isinstance(arm, ServingArm)]
    registry = pd.concat([arm.job.registry.frame().assign(arm=arm.name) for arm in eng.arms],
                         ignore_index=True)
    return RunResult(metrics, registry, entropy, shown, serving, eng.service.world,
                     eng.service.log, eng.state)
