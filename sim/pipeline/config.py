"""How the nightly pipeline decides what serves tomorrow, and the ranges of its knobs."""

from __future__ import annotations

from dataclasses import dataclass, field

from recloop.conf.ranges import MAX_DAYS, MAX_USERS, UNIT, Between, one_of, ranged
from recloop.sim.pipeline.validation import ValidationConfig


@dataclass
class PipelineConfig:
    """How the nightly job decides what serves tomorrow (see the module docstring).

    A rollback loads the previous model's artifact, so ``rollback_ctr_drop > 0`` needs
    ``keep_models`` other than ``none``; ``sim/cross_checks.py`` holds that rule.
    """

    gate: bool = True
    gate_metric: str = ranged("ndcg", one_of("precision", "recall", "ndcg", "hit_rate", "mrr"))
    # candidate must reach this × production's offline metric
    gate_ratio: float = ranged(0.98, Between(0, 100))
    # What the candidate is compared with on its held-out day (see the module docstring):
    # "popular": a most-popular ranking from the same window; "recent": the median score of
    # the last `gate_history` candidates; "registered": production's score at its own gate;
    # "live": production re-scored on the day it served. The production-based ones froze
    # the loop in every run we tried (the logging model wins offline on its own clicks).
    gate_baseline: str = ranged("popular", one_of("popular", "recent", "registered", "live"))
    gate_history: int = ranged(7, Between(1, MAX_DAYS, integer=True))
    # held-out users sampled for offline evaluation
    eval_users: int = ranged(2000, Between(1, MAX_USERS, integer=True))
    refit_after_gate: bool = True  # a passing candidate learns days < d (Policy.refit), then deploys
    # 0 = off; else roll back a new model whose CTR falls this much
    rollback_ctr_drop: float = ranged(0.0, UNIT)
    # which candidates' artifacts stay under models/: those deployed (what a rollback and a
    # trace need), every trained one (the gate's rejects too) or none
    keep_models: str = ranged("deployed", one_of("deployed", "all", "none"))
    validation: ValidationConfig = field(default_factory=ValidationConfig)
