"""The knobs every policy config shares: which wrappers to put around the base model.

Each policy's config inherits ``PolicyConfig``, so exploration, diversity and freshness can
be switched on for any recommender from the command line (``policy.epsilon=0.1``) and swept
like any other field. The defaults switch every wrapper off; ``policies.registry`` reads
these fields to build base → Diversify → FreshnessQuota → EpsilonGreedy.

A plug-in policy (one that lives outside recloop) inherits ``PolicyConfig`` too, and its
YAML names its class in ``_target_`` ("module.Class"); the class names its config class in
its ``config`` attribute, so the same declared ranges are checked for it as for built-ins.
"""

from __future__ import annotations

from dataclasses import dataclass

from recloop.conf.ranges import MAX_DAYS, UNIT, Between, one_of, ranged


@dataclass
class PolicyConfig:
    """Wrapper fields common to all policies; subclasses set ``name`` and add their own."""

    name: str = "policy"
    # a plug-in policy's class, "module.Class"; empty for the built-ins, chosen by name
    _target_: str = ""
    epsilon: float = ranged(0.0, UNIT)  # per-slot exploration probability (0 = off)
    # MMR weight on redundancy with what is already in the slate
    diversity: float = ranged(0.0, Between(0, 100))
    # "genre" or "embedding" (the base model's item vectors)
    similarity: str = ranged("genre", one_of("genre", "embedding"))
    # at most this many items of one genre per slate (0 = off)
    genre_cap: int = ranged(0, Between(0, 10_000, integer=True))
    # slots guaranteed to new releases (0 = off)
    fresh_slots: int = ranged(0, Between(0, "serving.k", integer=True))
    # "new" = released within this many days of the serving day
    fresh_days: int = ranged(7, Between(1, MAX_DAYS, integer=True))
    # how many of the base's best items the re-rankers choose from
    candidates: int = ranged(100, Between(1, "catalog.n_items", integer=True))
