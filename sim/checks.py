"""Start-up checks: every field's allowed range, as a table of named rules.

Every rule names its field and the allowed range, so a bad value stops a run before any
simulation with one line such as ``serving.k=5000 is out of range: allowed 1..2000``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from policies.registry import POLICIES
from sim.config import MINUTES_PER_DAY, ConfigError, RunConfig

MAX_DAYS = 10_000  # days are logged as int16
MAX_SEEN_BYTES = 8 * 2**30  # the users × items "watched" bitmap is dense

Check = Callable[[Any, RunConfig], str | None]  # returns the allowed range when violated


def between(lo: float, hi: float | str, *, integer: bool = False) -> Check:
    """Value within [lo, hi]; ``hi`` may name another field (e.g. ``catalog.n_items``)."""

    def check(value: Any, cfg: RunConfig) -> str | None:
        top = lookup(cfg, hi) if isinstance(hi, str) else hi
        ok = _is_number(value, integer) and lo <= value <= top
        kind = "an integer" if integer else "a number"
        limit = f"{top} ({hi})" if isinstance(hi, str) else f"{top}"
        return None if ok else f"{kind} in {lo}..{limit}"

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


def not_reserved(value: Any, cfg: RunConfig) -> str | None:
    """``ab`` and ``shadow`` label the test's and the shadow's rows in the metrics table."""
    return "a name other than ab or shadow" if value in ("ab", "shadow") else None


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
    """The dense users × items watched matrix must fit in memory."""
    if not _is_number(value, True) or value * cfg.catalog.n_items <= MAX_SEEN_BYTES:
        return None
    return f"at most {MAX_SEEN_BYTES // cfg.catalog.n_items:,} users for {cfg.catalog.n_items:,} items"


def nights_after_first(value: Any, cfg: RunConfig) -> str | None:
    """Night 0 builds the first model; a crash there would leave nothing to serve."""
    ok = all(_is_number(d, True) and 1 <= d < cfg.days for d in value)
    return None if ok else f"a list of nights in 1..{cfg.days - 1}"


def days_in_run(value: Any, cfg: RunConfig) -> str | None:
    """A fault on a day the run never reaches would silently do nothing."""
    ok = all(_is_number(d, True) and 0 <= d < cfg.days for d in value)
    return None if ok else f"a list of days in 0..{cfg.days - 1}"


def rollback_needs_models(value: Any, cfg: RunConfig) -> str | None:
    """Rolling back loads the previous model's saved artifact."""
    if value > 0 and not cfg.pipeline.save_models:
        return "0 unless pipeline.save_models is true"
    return None


UNIT = between(0.0, 1.0)
RULES: dict[str, Check] = {
    "seed": seed_value,
    "days": between(1, MAX_DAYS, integer=True),
    "tick_minutes": divides_day,
    "complete_at": between(0.01, 1.0),
    "users.n_users": all_of(between(1, 10_000_000, integer=True), seen_matrix_fits),
    "users.niche_fraction": UNIT,
    "users.favourite_genres": between(1, "catalog.n_genres", integer=True),
    "users.taste_noise": at_least(0),
    "users.sessions_per_day": between(1e-6, 100.0),
    "users.activity_sigma": at_least(0),
    "users.satisfaction_init": UNIT,
    "users.satisfaction_rate": UNIT,
    "users.idle_value": UNIT,
    "users.churn_base": UNIT,
    "users.churn_sensitivity": at_least(0),
    "users.choice.position_bias": one_of("log", "geometric"),
    "users.choice.geometric_decay": between(0.0, 1.0),
    "users.choice.completion_concentration": at_least(0, strict=True),
    "catalog.n_items": between(1, 1_000_000, integer=True),
    "catalog.n_genres": between(1, "catalog.n_items", integer=True),
    "catalog.genre_skew": at_least(0),
    "catalog.latent_dim": at_least(2, integer=True),
    "catalog.genre_spread": at_least(0),
    "catalog.quality_sd": at_least(0),
    "catalog.clickbait_fraction": UNIT,
    "catalog.initial_fraction": between(0.001, 1.0),
    "catalog.release_days": between(1, MAX_DAYS, integer=True),
    "serving.name": one_of("batch", "realtime", "hybrid"),
    "serving.hybrid_candidates": between(1, "catalog.n_items", integer=True),
    "serving.k": between(1, "catalog.n_items", integer=True),  # position is logged as int16
    "serving.spare": at_least(0, integer=True),
    "train.window_days": at_least(1, integer=True),
    "train.label": one_of("click", "complete"),
    "traffic.diurnal_amplitude": UNIT,
    "traffic.peak_hour": between(0.0, 24.0),
    "pipeline.gate_metric": one_of("precision", "recall", "ndcg", "hit_rate", "mrr"),
    "pipeline.gate_ratio": at_least(0),
    "pipeline.gate_baseline": one_of("popular", "recent", "registered", "live"),
    "pipeline.gate_history": at_least(1, integer=True),
    "pipeline.eval_users": at_least(1, integer=True),
    "pipeline.rollback_ctr_drop": all_of(UNIT, rollback_needs_models),
    "pipeline.validation.max_null_rate": UNIT,
    "pipeline.validation.volume_low": at_least(0),
    "pipeline.validation.volume_high": at_least(0, strict=True),
    "pipeline.validation.trailing_days": at_least(1, integer=True),
    "faults.outage_rate": at_least(0),
    "faults.outage_hours": at_least(0, strict=True),
    "faults.nightly_failure_rate": UNIT,
    "faults.log_loss_fraction": UNIT,
    "faults.failed_nights": nights_after_first,
    "faults.log_loss_days": days_in_run,
    "controller.adaptive_epsilon": needs_explorer,
    "arm": not_reserved,
    "controller.target_top1_share": UNIT,
    "controller.step": at_least(1, strict=True),
    "controller.min_epsilon": UNIT,
    "controller.max_epsilon": UNIT,
    "train.leakage": all_of(one_of("none", "window", "features"), leak_has_a_target),
    "ab.share": UNIT,
    "ab.training": one_of("pooled", "per_arm"),
}
COMMON_POLICY_RULES: dict[str, Check] = {  # the wrapper knobs of policies/config.py
    "epsilon": UNIT,
    "diversity": at_least(0),
    "similarity": one_of("genre", "embedding"),
    "genre_cap": at_least(0, integer=True),
    "fresh_slots": between(0, "serving.k", integer=True),
    "fresh_days": at_least(1, integer=True),
    "candidates": between(1, "catalog.n_items", integer=True),
}
FACTOR_RULES: dict[str, Check] = {
    "factors": at_least(1, integer=True),
    "regularization": at_least(0),
    "iterations": at_least(1, integer=True),
    "threads": at_least(1, integer=True),
}
ALS_RULES: dict[str, Check] = {**FACTOR_RULES, "alpha": at_least(0, strict=True)}
POLICY_RULES: dict[str, dict[str, Check]] = {
    "item_knn": {"neighbours": at_least(1, integer=True)},
    "als": ALS_RULES,
    "bpr": {**FACTOR_RULES, "learning_rate": at_least(0, strict=True)},
    "two_stage": {
        **ALS_RULES,
        "retrieve": between(1, "catalog.n_items", integer=True),
        "ranker.iterations": at_least(1, integer=True),
        "ranker.learning_rate": at_least(0, strict=True),
        "ranker.leaves": at_least(2, integer=True),
        "ranker.bins": between(2, 255, integer=True),
        "ranker.min_positives": at_least(1, integer=True),
    },
}


def validate(cfg: RunConfig) -> None:
    """Raise ``ConfigError`` for the first field outside its allowed range."""
    if cfg.policy is None:
        raise ConfigError("policy is missing: choose one of " + ", ".join(sorted(POLICIES)))
    rules = policy_rules("policy", cfg.policy) | dict(RULES)
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


def policy_rules(prefix: str, policy: Any) -> dict[str, Check]:
    """The rules of a policy config found at ``prefix`` (its name decides which apply)."""
    name = getattr(policy, "name", "")
    rules = {"name": one_of(*sorted(POLICIES)), **COMMON_POLICY_RULES, **POLICY_RULES.get(name, {})}
    return {f"{prefix}.{field}": check for field, check in rules.items()}


def lookup(cfg: Any, path: str) -> Any:
    """Follow a dotted path through attributes (dataclasses) or keys (dicts)."""
    node = cfg
    for part in path.split("."):
        node = node[part] if isinstance(node, dict) else getattr(node, part)
    return node


def _is_number(value: Any, integer: bool) -> bool:
    if isinstance(value, bool):
        return False
    return isinstance(value, int) if integer else isinstance(value, (int, float))
