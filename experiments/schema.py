"""Register the typed config schemas with Hydra, so YAML is checked against dataclasses."""

from __future__ import annotations

from hydra.core.config_store import ConfigStore

from recloop.policies.registry import POLICIES
from recloop.sim.config import RunConfig


def register_schemas() -> None:
    """Root schema as ``base_config``; each policy's schema as ``policy/base_<name>``."""
    store = ConfigStore.instance()
    store.store(name="base_config", node=RunConfig)
    for name, spec in POLICIES.items():
        store.store(group="policy", name=f"base_{name}", node=spec.config)
