"""Policy names, their config schemas and constructors, in one table, plus the wrapping.

A new policy is its module (a config dataclass whose fields declare their ranges with
``conf.ranges``, and the policy class), one row here, ``conf/policy/<name>.yaml`` and its
tests; start-up checks read the ranges from the config class itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from recloop.policies.base import Policy
from recloop.policies.diversity import Diversify
from recloop.policies.factor import (
    ALSConfig,
    ALSPolicy,
    BPRConfig,
    BPRPolicy,
    ItemKNNConfig,
    ItemKNNPolicy,
)
from recloop.policies.oracle import OracleConfig, OraclePolicy
from recloop.policies.simple import PopularConfig, PopularPolicy, RandomConfig, RandomPolicy
from recloop.policies.two_stage import TwoStageConfig, TwoStagePolicy
from recloop.policies.types import ItemMetadata
from recloop.policies.wrappers import EpsilonGreedy, FreshnessQuota


@dataclass(frozen=True)
class PolicySpec:
    """A policy kind: its typed config and its class."""

    config: type
    policy: type[Policy]


POLICIES: dict[str, PolicySpec] = {
    "random": PolicySpec(RandomConfig, RandomPolicy),
    "popular": PolicySpec(PopularConfig, PopularPolicy),
    "item_knn": PolicySpec(ItemKNNConfig, ItemKNNPolicy),
    "als": PolicySpec(ALSConfig, ALSPolicy),
    "bpr": PolicySpec(BPRConfig, BPRPolicy),
    "two_stage": PolicySpec(TwoStageConfig, TwoStagePolicy),
    "oracle": PolicySpec(OracleConfig, OraclePolicy),
}


def make_policy(
    cfg: Any, items: ItemMetadata, rng: np.random.Generator, truth: Any = None
) -> Policy:
    """Build the policy named by ``cfg.name``, wrapped as its shared knobs ask.

    Only the oracle is handed the ground truth. The base keeps ``rng`` itself, so switching
    a wrapper on never changes the base's own random numbers.
    """
    if cfg.name not in POLICIES:
        raise KeyError(f"unknown policy {cfg.name!r}; choose one of {sorted(POLICIES)}")
    if cfg.name == "oracle":  # by name, not by a flag another class could copy
        base: Policy = OraclePolicy(items, rng, cfg, truth)
    else:
        base = POLICIES[cfg.name].policy(items, rng, cfg)
    return wrap(base, cfg, rng)


def wrap(policy: Policy, cfg: Any, rng: np.random.Generator) -> Policy:
    """base → Diversify → FreshnessQuota → EpsilonGreedy, each only when switched on.

    Exploration is outermost so the propensities it states are those of the final slate.
    """
    if cfg.diversity > 0 or cfg.genre_cap > 0:
        policy = Diversify(policy, cfg.diversity, cfg.similarity, cfg.genre_cap, cfg.candidates)
    if cfg.fresh_slots > 0:
        policy = FreshnessQuota(policy, cfg.fresh_slots, cfg.fresh_days)
    if cfg.epsilon > 0:
        policy = EpsilonGreedy(policy, cfg.epsilon, rng.spawn(1)[0])
    return policy
