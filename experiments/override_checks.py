"""What a command line's overrides mean, checked before OmegaConf converts them away.

OmegaConf coerces leniently: ``pipeline.gate=2`` becomes ``true`` and ``policy.alpha=yes``
may slip through as text, so after composing, the typed config cannot tell a typo from a
choice. Here each ``key=value`` is read as Hydra parsed it and held against the type its
field declares: a bool field takes only ``true``/``false``, an int field only an integer,
a float field only a number (the ranges in ``sim/checks.py`` then reject NaN and ±inf), a
text field no bare ``true``/``false``.

One rule needs the command line itself: ``policy@ab.treatment=<name>`` without ``ab.share``
(or an ``ab=`` design) used to run the treatment on nobody, silently.
"""

from __future__ import annotations

import typing
from collections.abc import Sequence
from dataclasses import fields, is_dataclass
from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override

from recloop.sim.config import ConfigError, RunConfig

SHARE_KEYS = {"ab", "ab.share", "experiment"}  # ways a command line may choose the split


def check_overrides(overrides: Sequence[str], cfg: RunConfig) -> None:
    """Raise ``ConfigError`` for an override whose value is not of its field's type."""
    parsed = OverridesParser.create().parse_overrides(list(overrides))
    for override in parsed:
        if override.is_sweep_override() or override.is_delete():
            continue
        declared = declared_type(cfg, override.key_or_group)
        if declared is not None and (allowed := type_problem(declared, override.value())):
            shown = override.get_value_element_as_str()
            raise ConfigError(f"{override.key_or_group}={shown} is out of range: allowed {allowed}")
    _treatment_needs_a_share(parsed, cfg)


def declared_type(cfg: RunConfig, path: str) -> Any | None:
    """The annotation of the dataclass field at a dotted path; None for a group or unknown."""
    node: Any = cfg
    hint: Any = None
    for part in path.split("."):
        if not is_dataclass(node) or part not in {f.name for f in fields(node)}:
            return None
        hint = typing.get_type_hints(type(node))[part]
        node = getattr(node, part)
    return hint


def type_problem(declared: Any, value: Any) -> str | None:
    """What the field allows, or None if ``value`` is of the declared type."""
    args = typing.get_args(declared)
    if type(None) in args:  # Optional[X]: null, or an X
        inner = next(a for a in args if a is not type(None))
        return None if value is None else type_problem(inner, value)
    if declared is bool:
        return None if isinstance(value, bool) else "true or false"
    if declared is str:  # OmegaConf would store true as 'True'
        return "text (quote it: 'true')" if isinstance(value, bool) else None
    if declared is int:
        return None if _is_int(value) else "an integer"
    if declared is float:
        return None if _is_int(value) or isinstance(value, float) else "a number"
    if typing.get_origin(declared) is list and args == (int,):
        ok = isinstance(value, list) and all(_is_int(v) for v in value)
        return None if ok else "a list of integers, e.g. [3,7]"
    return None  # strings and policy slots: their ranges and Hydra check them


def _treatment_needs_a_share(parsed: list[Override], cfg: RunConfig) -> None:
    chose = {o.get_key_element() for o in parsed if not o.is_delete()}
    if cfg.ab.treatment is None or cfg.ab.share > 0 or chose & SHARE_KEYS:
        return
    raise ConfigError("ab.share=0.0 is out of range: policy@ab.treatment is set, so allowed "
                      "ab.share > 0 (e.g. ab.share=0.5) or an ab design (ab=pooled, per_arm, "
                      "all_control, all_treatment); without one the treatment serves nobody")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
