"""The knobs every policy config shares: which wrappers to put around the base model.

Each policy's config inherits ``PolicyConfig``, so exploration, diversity and freshness can
be switched on for any recommender from the command line (``policy.epsilon=0.1``) and swept
like any other field. The defaults switch every wrapper off; ``policies.registry`` reads
these fields to build base → Diversify → FreshnessQuota → EpsilonGreedy.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class PolicyConfig:
    """Wrapper fields common to all policies; subclasses set ``name`` and add their own."""

    name: str = "policy"
    epsilon: float = 0.0  # per-slot exploration probability (0 = off)
    diversity: float = 0.0  # MMR weight on redundancy with what is already in the slate
    similarity: str = "genre"  # "genre" or "embedding" (the base model's item vectors)
    genre_cap: int = 0  # at most this many items of one genre per slate (0 = off)
    fresh_slots: int = 0  # slots guaranteed to new releases (0 = off)
    fresh_days: int = 7  # "new" = released within this many days of the serving day
    candidates: int = 100  # how many of the base's best items the re-rankers choose from
