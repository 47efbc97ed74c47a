"""Start-up checks: every field's declared range, plus the rules that relate fields.

A config dataclass declares each field's range or choices on the field itself
(``conf/ranges.py``); ``validate`` walks the run's config tree, nested configs and the
chosen policies included, and checks each field in declaration order. A policy's rules are
therefore those of its own config class, and a new policy needs no edit here. This module
adds only what a field cannot say about itself: ``CROSS_FIELD`` rules that read other
fields (a fault day must fall inside the run) or state a special range (``seed``).

Every rule names its field and the allowed range, so a bad value stops a run before any
simulation with one line such as ``serving.k=5000 is out of range: allowed 1..2000``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import Field, fields, is_dataclass
from typing import Any

from recloop.conf.ranges import AtLeast, Between, OneOf, Rule, rule_of
from recloop.policies.registry import POLICIES
from recloop.sim import machine_fit
from recloop.sim.config import MINUTES_PER_DAY, ConfigError, RunConfig
from recloop.sim.data_checks import calibration_data, users_from_data

MAX_SEEN_BYTES = 8 * 2**30  # the users × items "watched" matrix: a bit per pair
POLICY_SLOTS = ("policy", "ab.treatment", "shadow")  # policy configs: checked only when used

Check = Callable[[Any, RunConfig], str | None]  # returns the allowed range when violated


def between(lo: float, hi: float | str, *, integer: bool = False, strict: bool = False) -> Check:
    """Value within [lo, hi] (``(lo, hi]`` when strict); ``hi`` may name another field."""

    def check(value: Any, cfg: RunConfig) -> str | None:
        top = lookup(cfg, hi) if isinstance(hi, str) else hi
        ok = _is_number(value, integer) and (value > lo if strict else value >= lo) and value <= top
        kind = "an integer" if integer else "a number"
        limit = f"{top} ({hi})" if isinstance(hi, str) else f"{top}"
        return None if ok else (f"{kind} > {lo} and <= {limit}" if strict
                                else f"{kind} in {lo}..{limit}")

    return check


def at_least(lo: float, *, integer: bool = False, strict: bool = False) -> Check:
    """Value >= lo (or > lo when strict)."""

    def check(value: Any, cfg: RunConfig) -> str | None:
        ok = _is_number(value, integer) and (value > lo if strict else value >= lo)
        kind = "an integer" if integer else "a number"
        return None if ok else f"{kind} {'>' if strict else '>='} {lo}"

    return check


def one_of(*choices: str) -> Check:
    """Value is one of the named choices."""
    return lambda value, cfg: None if value in choices else "one of " + ", ".join(choices)


def divides_day(value: Any, cfg: RunConfig) -> str | None:
    """A tick must divide a day so every day has the same whole number of ticks."""
    ok = _is_number(value, True) and 1 <= value <= MINUTES_PER_DAY and MINUTES_PER_DAY % value == 0
    return None if ok else "a divisor of 1440 minutes (e.g. 1, 5, 15, 60, 1440)"


def seed_value(value: Any, cfg: RunConfig) -> str | None:
    """``null`` (fresh entropy, recorded in the run) or a non-negative integer."""
    return None if value is None or (_is_number(value, True) and value >= 0) else "null or >= 0"


def serving_policies(cfg: RunConfig) -> dict[str, Any]:
    """Config path → policy config of every arm that serves users in this run."""
    treatment, share = cfg.ab.treatment, cfg.ab.share
    out = {} if treatment is not None and share >= 1 else {"policy": cfg.policy}
    if treatment is not None and share > 0:
        out["ab.treatment"] = treatment
    return out


def needs_explorer(value: Any, cfg: RunConfig) -> str | None:
    """The epsilon controller steers every arm's explorer: each must start with epsilon > 0."""
    for path, policy in serving_policies(cfg).items():
        if value and not getattr(policy, "epsilon", 0) > 0:
            return f"true only with {path}.epsilon > 0"
    return None


def sharding_allowed(value: Any, cfg: RunConfig) -> str | None:
    """More shards than one are byte-identical to one only when no draw depends on the
    batch (``sim/shards.py``)."""
    if value == 1:
        return None
    if not cfg.common_random_numbers:
        return "1 unless common_random_numbers=true (users' draws keyed per user)"
    if cfg.users.organic.enabled and cfg.users.organic.sampler != "scan":
        return "1 unless users.organic.sampler=scan"
    for path, policy in serving_policies(cfg).items():
        if getattr(policy, "name", "") == "random" or getattr(policy, "epsilon", 0) > 0:
            return f"1 while {path} draws per request (random policy or epsilon > 0)"
    return None


RESERVED_ARMS = ("ab", "shadow", "holdout", "holdout_monitor", "churn", "monitors")


def not_reserved(value: Any, cfg: RunConfig) -> str | None:
    """These label the test's, the shadow's, the holdout's, the churn dashboard's and the
    monitors' rows."""
    return "a name other than " + ", ".join(RESERVED_ARMS) if value in RESERVED_ARMS else None


def holdout_without_ab(value: Any, cfg: RunConfig) -> str | None:
    """The holdout is a split of its own: with an A/B test the arms would overlap."""
    return "0 while an A/B test runs (ab.treatment set)" if value > 0 and \
        cfg.ab.treatment is not None else None


def churn_fit_in_run(value: Any, cfg: RunConfig) -> str | None:
    """The first fit needs ``min_train_dates`` labelled dates and one held out: without
    enough days the switch would silently record nothing but the truth."""
    churn = cfg.churn_model
    need = churn.label_days + value + 1
    if churn.enabled and cfg.days < need:
        return f"at most {cfg.days - churn.label_days - 1} for days={cfg.days} " \
            f"(a fit needs days >= label_days + min_train_dates + 1 = {need})"
    return None


def decision_needs_model(value: Any, cfg: RunConfig) -> str | None:
    """Without the churn model nobody is ever flagged: the switch would silently do nothing."""
    return "none unless churn_model.enabled=true" if value != "none" and \
        not cfg.churn_model.enabled else None


def leak_has_a_target(value: Any, cfg: RunConfig) -> str | None:
    """Each leak needs something to leak into, or the switch would silently do nothing."""
    trained = [*serving_policies(cfg).values(), cfg.shadow]
    if value == "features" and not any(getattr(p, "name", "") == "two_stage" for p in trained):
        return "features only with a two_stage policy (the policy with learned features)"
    if value == "window" and not (cfg.pipeline.gate and cfg.pipeline.refit_after_gate):
        return ("window only with pipeline.gate=true and pipeline.refit_after_gate=true "
                "(it leaks into the gate's evaluation, never into what serves)")
    return None


def all_of(*checks: Check) -> Check:
    """Every check must pass; the first complaint is reported."""

    def check(value: Any, cfg: RunConfig) -> str | None:
        return next((msg for c in checks if (msg := c(value, cfg)) is not None), None)

    return check


def seen_matrix_fits(value: Any, cfg: RunConfig) -> str | None:
    """The users × items watched matrix (``policies.watched``) must fit in memory."""
    row_bytes = (cfg.catalog.n_items + 7) // 8
    if not _is_number(value, True) or value * row_bytes <= MAX_SEEN_BYTES:
        return None
    return f"at most {MAX_SEEN_BYTES // row_bytes:,} users for {cfg.catalog.n_items:,} items"


def nights_after_first(value: Any, cfg: RunConfig) -> str | None:
    """Night 0 builds the first model; a crash there would leave nothing to serve."""
    ok = all(_is_number(d, True) and 1 <= d < cfg.days for d in value)
    return None if ok else f"a list of nights in 1..{cfg.days - 1}"


def days_in_run(value: Any, cfg: RunConfig) -> str | None:
    """A fault on a day the run never reaches would silently do nothing."""
    ok = all(_is_number(d, True) and 0 <= d < cfg.days for d in value)
    return None if ok else f"a list of days in 0..{cfg.days - 1}"


def not_below_volume_low(value: Any, cfg: RunConfig) -> str | None:
    """A low bound above the high one would fail every day's volume check."""
    low = cfg.pipeline.validation.volume_low
    return None if value >= low else f"at least pipeline.validation.volume_low ({low})"


def rollback_needs_models(value: Any, cfg: RunConfig) -> str | None:
    """Rolling back loads the previous model's saved artifact."""
    if value > 0 and cfg.pipeline.keep_models == "none":
        return "0 unless pipeline.keep_models keeps models (deployed or all)"
    return None


CROSS_FIELD: dict[str, Check] = {  # checked after the field's own declared range, if any
    "catalog.source": calibration_data,
    "users.source": users_from_data,
    "seed": seed_value,
    "tick_minutes": divides_day,
    "arm": not_reserved,
    "users.n_users": seen_matrix_fits,
    "train.leakage": leak_has_a_target,
    "pipeline.rollback_ctr_drop": rollback_needs_models,
    "pipeline.validation.volume_high": not_below_volume_low,
    "faults.failed_nights": nights_after_first,
    "faults.log_loss_days": days_in_run,
    "controller.adaptive_epsilon": needs_explorer,
    "shards.n": sharding_allowed,
    "churn_model.holdout_share": holdout_without_ab,
    "churn_model.min_train_dates": churn_fit_in_run,
    "churn_model.decision": decision_needs_model,
}


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


def _is_number(value: Any, integer: bool) -> bool:
    """An int (a float too unless ``integer``), never a bool, never NaN or ±inf: ``inf``
    passes every lower bound and NaN fails every comparison silently."""
    if isinstance(value, bool):
        return False
    if integer:
        return isinstance(value, int)
    return isinstance(value, (int, float)) and math.isfinite(value)
