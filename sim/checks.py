"""Start-up checks: every field's declared range, plus the rules that relate fields.

A config dataclass declares each field's range or choices on the field itself
(``conf/ranges.py``); ``validate`` walks the run's config tree, nested configs and the
chosen policies included, and checks each field in declaration order. A policy's rules are
therefore those of its own config class, and a new policy needs no edit here. This module
adds only what a field cannot say about itself: the ``CROSS_FIELD`` rules of
``sim/cross_checks.py``, which read other fields or state a special range (``seed``).

Every rule names its field and the allowed range, so a bad value stops a run before any
simulation with one line such as ``serving.k=5000 is out of range: allowed 1..2000``.
"""

from __future__ import annotations

from dataclasses import Field, fields, is_dataclass
from typing import Any

from recloop.conf.ranges import AtLeast, Between, OneOf, Rule, rule_of
from recloop.policies.registry import POLICIES
from recloop.sim import machine_fit
from recloop.sim.config import ConfigError, RunConfig
from recloop.sim.cross_checks import CROSS_FIELD, Check, all_of, is_number, serving_policies

POLICY_SLOTS = ("policy", "ab.treatment", "shadow")  # policy configs: checked only when used



def between(lo: float, hi: float | str, *, integer: bool = False, strict: bool = False) -> Check:
    """Value within [lo, hi] (``(lo, hi]`` when strict); ``hi`` may name another field."""

    def check(value: Any, cfg: RunConfig) -> str | None:
        top = lookup(cfg, hi) if isinstance(hi, str) else hi
        ok = is_number(value, integer) and (value > lo if strict else value >= lo) and value <= top
        kind = "an integer" if integer else "a number"
        limit = f"{top} ({hi})" if isinstance(hi, str) else f"{top}"
        return None if ok else (f"{kind} > {lo} and <= {limit}" if strict
                                else f"{kind} in {lo}..{limit}")

    return check


def at_least(lo: float, *, integer: bool = False, strict: bool = False) -> Check:
    """Value >= lo (or > lo when strict)."""

    def check(value: Any, cfg: RunConfig) -> str | None:
        ok = is_number(value, integer) and (value > lo if strict else value >= lo)
        kind = "an integer" if integer else "a number"
        return None if ok else f"{kind} {'>' if strict else '>='} {lo}"

    return check


def one_of(*choices: str) -> Check:
    """Value is one of the named choices."""
    return lambda value, cfg: None if value in choices else "one of " + ", ".join(choices)




def validate(cfg: RunConfig) -> None:
    """Raise ``ConfigError`` for the first field outside its allowed range.

    Order: the policy's fields, then the run's in declaration order (nested configs in
    place), then the A/B treatment's and the shadow's when they are used.
    """
    if cfg.policy is None:
        raise ConfigError("policy is missing: choose one of " + ", ".join(sorted(POLICIES)))
    rules = policy_rules("policy", cfg.policy) | field_rules(cfg, skip=POLICY_SLOTS)
    if cfg.ab.share > 0:
        if cfg.ab.treatment is None:
            raise ConfigError("ab.share > 0 needs a treatment policy: add policy@ab.treatment="
                              + "|".join(sorted(POLICIES)))
        rules |= policy_rules("ab.treatment", cfg.ab.treatment)
    if cfg.shadow is not None:
        rules |= policy_rules("shadow", cfg.shadow)
    for path, check in rules.items():
        value = lookup(cfg, path)
        allowed = check(value, cfg)
        if allowed is not None:
            raise ConfigError(f"{path}={value!r} is out of range: allowed {allowed}")
    check_machine(cfg)


def check_machine(cfg: RunConfig) -> None:
    """Training threads against the cores, then the peak-memory estimate against what the
    machine has free (``sim/machine_fit.py``); after the ranges, so the estimate's inputs
    are sane."""
    for slot, policy in [*serving_policies(cfg).items(), ("shadow", cfg.shadow)]:
        threads = getattr(policy, "threads", None)
        if threads is not None and (allowed := machine_fit.threads_problem(threads)):
            raise ConfigError(f"{slot}.threads={threads!r} is out of range: allowed {allowed}")
    problem = machine_fit.memory_problem(cfg, machine_fit.available_bytes())
    if problem is not None:
        raise ConfigError(problem)


def policy_rules(prefix: str, policy: Any) -> dict[str, Check]:
    """The rules of a policy config found at ``prefix``: its name (a built-in's; a plug-in
    names itself), then its own fields'."""
    name = {} if getattr(policy, "_target_", "") else {f"{prefix}.name": one_of(*sorted(POLICIES))}
    return name | field_rules(policy, prefix)


def field_rules(node: Any, prefix: str = "", skip: tuple[str, ...] = ()) -> dict[str, Check]:
    """Path → check of every ranged field under ``node``, in declaration order.

    Nested config dataclasses are walked in place; ``skip`` names paths left out (the
    policy slots, which ``validate`` checks only when they are used).
    """
    rules: dict[str, Check] = {}
    for spec in fields(node) if is_dataclass(node) else ():
        path = f"{prefix}.{spec.name}" if prefix else spec.name
        value = getattr(node, spec.name)
        if path in skip:
            continue
        if is_dataclass(value) and not isinstance(value, type):
            rules |= field_rules(value, path, skip)
        elif (check := field_check(spec, path)) is not None:
            rules[path] = check
    return rules


def field_check(spec: Field[Any], path: str) -> Check | None:
    """A field's declared rule, then its ``CROSS_FIELD`` rule; ``None`` if it has neither."""
    declared = rule_of(spec)
    checks = [to_check(declared)] if declared is not None else []
    checks += [CROSS_FIELD[path]] if path in CROSS_FIELD else []
    return all_of(*checks) if checks else None


def to_check(rule: Rule) -> Check:
    """The check that enforces a declared rule."""
    if isinstance(rule, Between):
        return between(rule.lo, rule.hi, integer=rule.integer, strict=rule.strict)
    if isinstance(rule, AtLeast):
        return at_least(rule.lo, integer=rule.integer, strict=rule.strict)
    if isinstance(rule, OneOf):
        return one_of(*rule.choices)
    raise TypeError(f"unknown rule {rule!r}")


def lookup(cfg: Any, path: str) -> Any:
    """Follow a dotted path through attributes (dataclasses) or keys (dicts)."""
    node = cfg
    for part in path.split("."):
        node = node[part] if isinstance(node, dict) else getattr(node, part)
    return node
