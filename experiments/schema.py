"""Register the typed config schemas with Hydra, so YAML is checked against dataclasses,
and the resolver that names run folders after their overrides."""

from __future__ import annotations

import hashlib

from hydra.core.config_store import ConfigStore
from omegaconf import OmegaConf

from recloop.policies.registry import POLICIES
from recloop.sim.config import RunConfig

MAX_SUFFIX = 80  # characters of overrides in a run folder's name; longer ones end in a hash


def folder_suffix(overrides: str) -> str:
    """``_<overrides>`` for a run folder's name ('' without any): one path component, at
    most ``MAX_SUFFIX`` characters (a long list is cut and ends in a hash of the whole)."""
    if not overrides:
        return ""
    text = overrides.replace("/", "-")
    if len(text) > MAX_SUFFIX:
        digest = hashlib.sha256(text.encode()).hexdigest()[:8]
        text = f"{text[: MAX_SUFFIX - 9]}~{digest}"
    return f"_{text}"


def register_schemas() -> None:
    """Root schema as ``base_config``; each policy's schema as ``policy/base_<name>``; the
    ``folder_suffix`` resolver (``conf/config.yaml``'s run folder)."""
    if not OmegaConf.has_resolver("folder_suffix"):
        OmegaConf.register_new_resolver("folder_suffix", folder_suffix)
    store = ConfigStore.instance()
    store.store(name="base_config", node=RunConfig)
    for name, spec in POLICIES.items():
        store.store(group="policy", name=f"base_{name}", node=spec.config)
