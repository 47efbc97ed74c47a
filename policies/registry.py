"""Policy names, their config schemas and constructors, in one table, plus the wrapping.

A new policy is its module (a config dataclass whose fields declare their ranges with
``conf.ranges``, and the policy class), one row here, ``conf/policy/<name>.yaml`` and its
tests; start-up checks read the ranges from the config class itself.

A policy that lives outside recloop needs no row: its YAML names the class in ``_target_``
("module.Class", importable from the installed packages or the working directory) and the
class names its config class (a ``PolicyConfig`` subclass) in a ``config`` attribute.
"""

from __future__ import annotations

import importlib
import os
import sys
from dataclasses import dataclass
from typing import Any

import numpy as np

from recloop.policies.base import Policy
from recloop.policies.config import PolicyConfig
from recloop.policies.diversity import Diversify
from recloop.policies.factor import (
    ALSConfig,
    ALSPolicy,
    BPRConfig,
    BPRPolicy,
)
from recloop.policies.knn import ItemKNNConfig, ItemKNNPolicy
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
    target = getattr(cfg, "_target_", "")
    if target:  # a plug-in: built like the built-ins, never handed the ground truth
        base: Policy = plugin_class(target)(items, rng, cfg)
    elif cfg.name not in POLICIES:
        raise KeyError(f"unknown policy {cfg.name!r}; choose one of {sorted(POLICIES)}")
    elif cfg.name == "oracle":  # by name, not by a flag another class could copy
        base = OraclePolicy(items, rng, cfg, truth)
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


class PluginError(ImportError):
    """A plug-in policy's ``_target_`` that does not name a usable policy class."""


def plugin_class(target: str) -> type[Policy]:
    """The policy class a ``_target_`` names, e.g. ``"newest.NewestPolicy"``.

    The working directory is searched last, so a module beside the user's configs is found
    even when ``recloop`` runs as a console script (whose ``sys.path[0]`` is its bin folder),
    and nothing there can shadow an installed package.
    """
    module_name, _, class_name = target.rpartition(".")
    if not module_name:
        raise PluginError(f"_target_={target!r} must name a class as module.Class")
    try:
        module = _import(module_name)
    except ImportError as err:
        raise PluginError(f"_target_={target!r} cannot be imported: {err}") from None
    cls = getattr(module, class_name, None)
    if not (isinstance(cls, type) and issubclass(cls, Policy)):
        raise PluginError(f"_target_={target!r} is not a recloop Policy class "
                          "(subclass recloop.policies.base.Policy)")
    return cls


def plugin_config(target: str) -> type[PolicyConfig]:
    """The config class of a plug-in policy: its class's ``config`` attribute."""
    config = getattr(plugin_class(target), "config", None)
    if not (isinstance(config, type) and issubclass(config, PolicyConfig)):
        raise PluginError(f"_target_={target!r} has no config class: set config = <a "
                          "PolicyConfig subclass> on the policy class")
    return config


def _import(module_name: str) -> Any:
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as err:
        here = os.getcwd()
        if err.name != module_name.partition(".")[0] or here in sys.path:
            raise
    sys.path.append(here)
    return importlib.import_module(module_name)
