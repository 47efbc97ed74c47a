"""Register the typed config schemas with Hydra, so YAML is checked against dataclasses,
and the resolver that names run folders after their overrides; type a composed config.

Built-in policies are typed by Hydra itself (their YAML extends ``policy/base_<name>``). A
plug-in policy's YAML cannot: its class is not imported until the config is composed. So
``run_config`` imports each plug-in named by a ``_target_`` and types its fields with the
config class the policy names, before the same range checks run for every policy.
"""

from __future__ import annotations

import hashlib
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import ConfigKeyError, OmegaConfBaseException

from recloop.policies.registry import POLICIES, PluginError, plugin_config
from recloop.sim.checks import POLICY_SLOTS, lookup
from recloop.sim.config import ConfigError, RunConfig

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


def run_config(cfg: DictConfig) -> RunConfig:
    """The typed run config of a composed one, plug-in policies typed by their own classes."""
    run_cfg = OmegaConf.to_object(cfg)
    assert isinstance(run_cfg, RunConfig)
    for slot in POLICY_SLOTS:
        raw = lookup(run_cfg, slot)
        if isinstance(raw, dict):  # untyped: no built-in schema matched it
            parent, _, key = slot.rpartition(".")
            setattr(lookup(run_cfg, parent) if parent else run_cfg, key, plugin(slot, raw))
    return run_cfg


def plugin(slot: str, raw: dict[str, Any]) -> Any:
    """A plug-in policy's config: ``raw`` checked against the class its ``_target_`` names."""
    target = raw.get("_target_")
    if not target:
        raise ConfigError(f"{slot}: {raw.get('name', '?')!r} is not a built-in policy; a "
                          "plug-in's YAML names its class in _target_: module.Class")
    try:
        schema = OmegaConf.structured(plugin_config(str(target)))
        return OmegaConf.to_object(OmegaConf.merge(schema, raw))
    except PluginError as err:
        raise ConfigError(f"{slot}.{err}") from None
    except ConfigKeyError as err:
        name = plugin_config(str(target)).__name__
        raise ConfigError(f"{slot}.{err.full_key}: not a field of {name}") from None
    except OmegaConfBaseException as err:
        key = getattr(err, "full_key", None) or "?"
        first = str(getattr(err, "msg", None) or err).strip().splitlines()[0]
        raise ConfigError(f"{slot}.{key}: {first}") from None
