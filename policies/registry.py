"""Policy names, their config schemas and constructors, in one table."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from policies.base import Policy
from policies.factor import ALSConfig, ALSPolicy, ItemKNNConfig, ItemKNNPolicy
from policies.oracle import GroundTruth, OracleConfig, OraclePolicy
from policies.simple import PopularConfig, PopularPolicy, RandomConfig, RandomPolicy
from policies.types import ItemMetadata


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
    "oracle": PolicySpec(OracleConfig, OraclePolicy),
}


def make_policy(
    cfg: Any, items: ItemMetadata, rng: np.random.Generator, truth: GroundTruth
) -> Policy:
    """Build the policy named by ``cfg.name``; only the oracle is handed the ground truth."""
    if cfg.name not in POLICIES:
        raise KeyError(f"unknown policy {cfg.name!r}; choose one of {sorted(POLICIES)}")
    cls = POLICIES[cfg.name].policy
    if getattr(cls, "needs_ground_truth", False):
        return cls(items, rng, cfg, truth)  # type: ignore[call-arg]
    return cls(items, rng, cfg)
