"""Typed run configuration: one dataclass per config node, registered as Hydra schemas.

The ranges each field must respect live in ``sim/checks.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from agents.catalog import CatalogConfig
from agents.choice import ChoiceConfig
from agents.population import PopulationConfig

MINUTES_PER_DAY = 24 * 60


class ConfigError(ValueError):
    """A configuration value outside its allowed range."""


@dataclass
class UsersConfig(PopulationConfig):
    """The population plus how its members choose."""

    choice: ChoiceConfig = field(default_factory=ChoiceConfig)


@dataclass
class ServingConfig:
    """How slates reach users: batch (nightly lists), realtime (per request) or hybrid."""

    name: str = "batch"
    k: int = 10
    spare: int = 10  # extra batch candidates per user to replace items watched during the day
    hybrid_candidates: int = 100  # hybrid: nightly candidates per user, re-ranked per request


@dataclass
class TrainConfig:
    """What the nightly fit reads."""

    window_days: int = 14
    label: str = "click"  # "click" or "complete" (a watch of at least complete_at)
    # Deliberate leakage, to show what it does: "window" trains the gate's candidate on its
    # own held-out day; "features" lets two_stage's training features see their labels' day.
    leakage: str = "none"


@dataclass
class TrafficConfig:
    """Daily rhythm of arrivals: rate(h) ∝ 1 + amplitude * cos(2π (h - peak_hour) / 24)."""

    diurnal_amplitude: float = 0.6
    peak_hour: float = 20.0


@dataclass
class ValidationConfig:
    """Tolerances of the nightly data checks."""

    enabled: bool = True
    max_null_rate: float = 0.0  # for every column except propensity (null = unknown)
    volume_low: float = 0.5  # a day below this × the trailing mean volume fails
    volume_high: float = 2.0  # ... and above this ×
    trailing_days: int = 7


@dataclass
class PipelineConfig:
    """How the nightly job decides what serves tomorrow (see sim/pipeline/nightly.py)."""

    gate: bool = True
    gate_metric: str = "ndcg"  # one of precision, recall, ndcg, hit_rate, mrr
    gate_ratio: float = 0.98  # candidate must reach this × production's offline metric
    # What the candidate is compared with on its held-out day (see sim/pipeline/nightly.py):
    # "popular": a most-popular ranking from the same window; "recent": the median score of
    # the last `gate_history` candidates; "registered": production's score at its own gate;
    # "live": production re-scored on the day it served. The production-based ones froze
    # the loop in every run we tried (the logging model wins offline on its own clicks).
    gate_baseline: str = "popular"
    gate_history: int = 7
    eval_users: int = 2000  # held-out users sampled for offline evaluation
    refit_after_gate: bool = True  # retrain a passing candidate on days < d before deploying
    rollback_ctr_drop: float = 0.0  # 0 = off; else roll back a new model whose CTR falls this much
    save_models: bool = True  # keep every candidate's artifact under models/
    validation: ValidationConfig = field(default_factory=ValidationConfig)


@dataclass
class FaultConfig:
    """What goes wrong and how often. Defaults: nothing does."""

    outage_rate: float = 0.0  # model-server outages per day (Poisson)
    outage_hours: float = 1.0  # mean outage duration (exponential)
    nightly_failure_rate: float = 0.0  # probability that a nightly job crashes
    failed_nights: list[int] = field(default_factory=list)  # nights (before day d) that crash
    log_loss_days: list[int] = field(default_factory=list)  # days whose log loses rows
    log_loss_fraction: float = 0.7  # share of rows a lossy day drops


@dataclass
class ControllerConfig:
    """Adaptive exploration: raise epsilon while the top 1% of items hog impressions."""

    adaptive_epsilon: bool = False
    target_top1_share: float = 0.5
    step: float = 1.5  # multiply (share above target) or divide (below) epsilon by this
    min_epsilon: float = 0.01
    max_epsilon: float = 0.5


@dataclass
class ABConfig:
    """An A/B test: a seeded hash of the user id sends ``share`` of users to ``treatment``.

    The rest stay on the run's ``policy`` (control). ``share`` 0 or 1 puts everyone in one
    arm: the same seed's whole-population runs that give the true global effect.
    """

    share: float = 0.0  # treatment's share of users
    treatment: Any = None  # a policy config: set with policy@ab.treatment=<name>
    training: str = "pooled"  # "pooled": every arm trains on the whole log; "per_arm": its own rows
    salt: str = "ab"  # part of the assignment hash: a new salt reshuffles users


@dataclass
class RunConfig:
    """Root of the Hydra config tree."""

    seed: Optional[int] = 0  # noqa: UP045  (OmegaConf resolves Optional, not X | None)
    days: int = 30
    tick_minutes: int = 15
    complete_at: float = 0.8  # a watch of at least this fraction counts as completed
    arm: str = "main"
    progress: bool = True
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
