"""Typed run configuration: the root that composes every part's config, registered with Hydra.

Each part declares its own config next to its code (``ServingConfig`` in ``sim/serving.py``,
``FaultConfig`` in ``sim/faults.py``, a policy's in its module, ...) and each field states
its allowed range there (``conf/ranges.py``); ``sim/checks.py`` walks the tree to check them
and adds the rules that relate several fields.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from recloop.agents.catalog import CatalogConfig
from recloop.agents.users import UsersConfig
from recloop.conf.ranges import MAX_DAYS, UNIT, Between, one_of, ranged
from recloop.sim.churn_model import ChurnModelConfig
from recloop.sim.controllers import ControllerConfig
from recloop.sim.faults import FaultConfig
from recloop.sim.pipeline.config import PipelineConfig
from recloop.sim.serving import ServingConfig
from recloop.sim.traffic import TrafficConfig
from recloop.sim.window import TrainConfig

MINUTES_PER_DAY = 24 * 60


class ConfigError(ValueError):
    """A configuration value outside its allowed range."""


@dataclass
class ABConfig:
    """An A/B test: a seeded hash of the user id sends ``share`` of users to ``treatment``.

    The rest stay on the run's ``policy`` (control). ``share`` 0 or 1 puts everyone in one
    arm: the same seed's whole-population runs that give the true global effect.
    """

    share: float = ranged(0.0, UNIT)  # treatment's share of users
    treatment: Any = None  # a policy config: set with policy@ab.treatment=<name>
    # "pooled": every arm trains on the whole log; "per_arm": its own rows
    training: str = ranged("pooled", one_of("pooled", "per_arm"))
    salt: str = "ab"  # part of the assignment hash: a new salt reshuffles users


@dataclass
class ShardConfig:
    """How the day's sessions are split: ``n`` shards by user, answered by ``workers``."""

    n: int = ranged(1, Between(1, 64, integer=True))
    workers: str = ranged("threads", one_of("threads", "processes"))
    # rounds with fewer requests are answered whole: splitting them costs more than it saves
    min_requests: int = ranged(1000, Between(1, 10_000_000, integer=True))


@dataclass
class RunConfig:
    """Root of the Hydra config tree.

    ``seed`` (null or >= 0), ``tick_minutes`` (a divisor of a day) and ``arm`` (not a
    reserved label) have rules of their own in ``sim/cross_checks.py``.
    """

    seed: Optional[int] = 0  # noqa: UP045  (OmegaConf resolves Optional, not X | None)
    days: int = ranged(30, Between(1, MAX_DAYS, integer=True))
    tick_minutes: int = 15
    # a watch of at least this fraction counts as completed
    complete_at: float = ranged(0.8, Between(0.01, 1.0))
    arm: str = "main"
    progress: bool = True
    # the whole state pickled after every midnight, so a killed run resumes where it was
    # (sim/checkpoint.py); removed once the run has finished
    checkpoints: bool = True
    # users' coin flips keyed by (seed, user, day, request): runs that differ only in the
    # policy share them (common random numbers); false: one stream per component
    common_random_numbers: bool = False
    users: UsersConfig = field(default_factory=UsersConfig)
    catalog: CatalogConfig = field(default_factory=CatalogConfig)
    policy: Any = None
    serving: ServingConfig = field(default_factory=ServingConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    traffic: TrafficConfig = field(default_factory=TrafficConfig)
    pipeline: PipelineConfig = field(default_factory=PipelineConfig)
    faults: FaultConfig = field(default_factory=FaultConfig)
    controller: ControllerConfig = field(default_factory=ControllerConfig)
    ab: ABConfig = field(default_factory=ABConfig)
    shadow: Any = None  # a policy config ranking every request unseen: policy@shadow=<name>
    # a churn-risk model trained on the log, its dashboard and a holdout monitor (off)
    churn_model: ChurnModelConfig = field(default_factory=ChurnModelConfig)
    # the day's sessions answered in shards by user, in worker threads or processes
    # (sim/shards.py): byte-identical results for every n
    shards: ShardConfig = field(default_factory=ShardConfig)
