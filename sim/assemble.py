"""Build a run's pieces from its config: the state, the service, the arms, the engine.

Every serving arm gets its own nightly job, registry and server; a shadow gets the same
pieces and serves nobody; an A/B test adds a readout between the arms and the shadow in
the metrics table, a persistent holdout its monitor, and the churn model its dashboard and
the monitors beside it. Streams are named, so building order never changes a random
number.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from recloop.agents.truth import GroundTruth
from recloop.agents.users import UserState
from recloop.policies.base import Policy
from recloop.policies.registry import POLICIES, make_policy
from recloop.policies.types import ItemMetadata
from recloop.policies.watched import watched_matrix
from recloop.sim.ab_readout import ABReadout
from recloop.sim.alarms import HOLDOUT_ALARM, AlarmState
from recloop.sim.assignment import CONTROL, HOLDOUT, TREATMENT, arm_plan
from recloop.sim.churn_dashboard import ChurnDashboard
from recloop.sim.churn_features import ActivityReader
from recloop.sim.churn_model import ChurnLearner
from recloop.sim.config import RunConfig
from recloop.sim.engine import Closer, Engine
from recloop.sim.eventlog import EventLog
from recloop.sim.faults import Outages
from recloop.sim.fidelity import fidelity_sample
from recloop.sim.holdout import HoldoutReadout
from recloop.sim.monitors import Monitors
from recloop.sim.pipeline.nightly import NightlyJob, PolicyFactory
from recloop.sim.pipeline.state import PipelineState
from recloop.sim.retention import RetentionDecision
from recloop.sim.rounds import Arm
from recloop.sim.seeding import Streams
from recloop.sim.service import Service
from recloop.sim.serving import Server, ServingLists
from recloop.sim.serving_arm import ServingArm
from recloop.sim.shadow import SHADOW, ShadowArm
from recloop.sim.state import RunState, ServingState, ShadowState
from recloop.sim.world import World

SHARED_STREAMS = ("traffic", "choice", "churn", "clock", "faults", "organic", "continuation")


def initial_state(cfg: RunConfig, world: World, streams: Streams) -> RunState:
    """The run before its first night."""
    n_users, n_items = world.population.n_users, world.catalog.n_items
    return RunState(users=UserState.initial(world.population, cfg.users, world.catalog.n_genres),
                    seen=watched_matrix(n_users, n_items), arms={},
                    streams={name: streams.rng(name) for name in SHARED_STREAMS},
                    plays=np.zeros(n_items, dtype=np.int64),
                    requests_today=np.zeros(n_users, dtype=np.int64),
                    at_risk=np.zeros(n_users, dtype=bool))


def crn_keys(streams: Streams) -> dict[str, np.uint64]:
    """One hash key per purpose of the users' draws (common random numbers)."""
    return {name: np.uint64(streams.seed_sequence(f"crn/{name}").generate_state(1, np.uint64)[0])
            for name in SHARED_STREAMS}


@dataclass
class PolicyMaker:
    """Fresh, unfitted policies of one kind, one random stream per model version (the
    oracle reads the users' live tastes). A class rather than a closure so a checkpoint
    can pickle the arms that hold one."""

    items: ItemMetadata
    truth: GroundTruth
    streams: Streams
    policy_cfg: Any
    stream: str

    def __call__(self, version: int) -> Policy:
        return make_policy(self.policy_cfg, self.items,
                           self.streams.rng(f"{self.stream}/v{version}"), self.truth)


def factory(service: Service, streams: Streams, policy_cfg: Any, stream: str) -> PolicyFactory:
    """The policy maker of one arm's pipeline."""
    world = service.world
    return PolicyMaker(world.metadata(), world.truth(service.state.users.taste), streams,
                       policy_cfg, stream)


def build_engine(cfg: RunConfig, world: World, streams: Streams, state: RunState,
                 run_dir: Path, outages: Outages) -> Engine:
    """The service, every arm and every closer of the metrics table, around ``state``."""
    sample = fidelity_sample(world.population.n_users, streams.rng("fidelity"))
    keys = crn_keys(streams) if cfg.common_random_numbers else {}
    service = Service(cfg, world, EventLog(Path(run_dir) / "log"), state, outages, sample, keys)
    plan = arm_plan(cfg, world.population.n_users, streams.entropy)
    serving = [serving_arm(service, name, members, streams, run_dir, len(plan))
               for name, members in plan.items()]
    arms: list[Arm] = list(serving)
    closers: list[Closer] = list(serving)
    by_name = {arm.name: arm.state for arm in serving}
    if HOLDOUT in by_name:
        alarm = state.monitors.setdefault(HOLDOUT_ALARM, AlarmState())
        closers.append(HoldoutReadout(by_name[cfg.arm], by_name[HOLDOUT], service,
                                      cfg.churn_model, alarm))
    elif len(serving) > 1:
        closers.append(ABReadout(by_name[CONTROL], by_name[TREATMENT], cfg.ab.share))
    if cfg.churn_model.enabled:
        dashboard = ChurnDashboard(churn_learner(service), service,
                                   Path(run_dir) / "churn_registry.parquet")
        closers += [dashboard, Monitors(dashboard, serving[0].state, state.monitors,
                                        cfg.churn_model.monitors)]
        if cfg.churn_model.decision == "retention_slot":
            closers.append(RetentionDecision(dashboard, state.at_risk, cfg.churn_model.at_risk))
    if cfg.shadow is not None:
        shadow = shadow_arm(service, streams, run_dir)
        arms.append(shadow)
        closers.append(shadow)
    return Engine(service, arms, closers)


def churn_learner(service: Service) -> ChurnLearner:
    """The churn-risk model: the log, the catalog's public genres, nothing hidden."""
    cfg, log = service.cfg, service.log
    reader = ActivityReader(log, service.world.metadata().genre, service.state.shape[0],
                            cfg.complete_at, cfg.churn_model.popular_share)
    return ChurnLearner(cfg.churn_model, reader, log)


def _job(service: Service, make: PolicyFactory, models: Path, rng: np.random.Generator,
         arm: str | None) -> tuple[NightlyJob, PipelineState]:
    cfg, pipeline = service.cfg, PipelineState.start(rng)
    # random slates have nothing to gate: judging them would only log a rejection a night
    nightly = replace(cfg.pipeline, gate=False) if arm == HOLDOUT else cfg.pipeline
    job = NightlyJob(nightly, cfg.train, cfg.complete_at, service.log, models, pipeline,
                     make, arm=arm, nights=cfg.days)
    return job, pipeline


def _server(cfg: RunConfig, lists: ServingLists) -> Server:
    serving = cfg.serving
    return Server(serving.name, serving.k, serving.spare, serving.hybrid_candidates, lists)


def serving_arm(service: Service, name: str, members: np.ndarray, streams: Streams,
                run_dir: Path, n_arms: int) -> ServingArm:
    """One arm of the plan: its models under ``models/`` (``models/<arm>/`` in a test)."""
    cfg, world = service.cfg, service.world
    policy_cfg, stream = {TREATMENT: (cfg.ab.treatment, "treatment"),
                          HOLDOUT: (POLICIES["random"].config(), "holdout")}.get(
                              name, (cfg.policy, "policy"))
    models = Path(run_dir) / "models" if n_arms == 1 else Path(run_dir) / "models" / name
    pooled_stream = cfg.ab.treatment is None and name != HOLDOUT  # production's, unchanged
    rng = streams.rng("pipeline" if pooled_stream else f"pipeline/{name}")
    per_arm = cfg.ab.training == "per_arm" or cfg.churn_model.holdout_share > 0
    own = name if per_arm and n_arms > 1 else None
    job, pipeline = _job(service, factory(service, streams, policy_cfg, stream), models, rng,
                         own)
    n_items = world.catalog.n_items
    state = ServingState(members, service.new_tally(members), np.ones(n_items, dtype=bool),
                         np.zeros(members.size, dtype=bool), pipeline)
    service.state.arms[name] = state
    retains = cfg.churn_model.decision == "retention_slot" and name != HOLDOUT
    return ServingArm(name, service, job, _server(cfg, state.lists), state, retains)


def shadow_arm(service: Service, streams: Streams, run_dir: Path) -> ShadowArm:
    """The shadow candidate: trained on the whole log, its models under ``models/shadow``."""
    cfg = service.cfg
    make = factory(service, streams, cfg.shadow, "shadow")
    job, pipeline = _job(service, make, Path(run_dir) / "models" / SHADOW,
                         streams.rng(f"pipeline/{SHADOW}"), None)
    state = ShadowState(pipeline)
    service.state.arms[SHADOW] = state
    return ShadowArm(service, job, _server(cfg, state.lists), state, run_dir)
