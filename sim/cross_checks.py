"""The start-up rules that relate fields: what a field cannot say about itself.

``CROSS_FIELD`` maps a field to a rule that reads other fields (a fault day must fall
inside the run, more than one shard needs keyed draws) or states a special range
(``seed``); ``sim/checks.py`` applies each after the field's own declared range. A rule
returns the allowed range when the value breaks it, so the error names both.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from recloop.sim.config import MINUTES_PER_DAY, RunConfig
from recloop.sim.data_checks import calibration_data, users_from_data

MAX_SEEN_BYTES = 8 * 2**30  # the users × items "watched" matrix: a bit per pair

Check = Callable[[Any, RunConfig], str | None]  # returns the allowed range when violated


def divides_day(value: Any, cfg: RunConfig) -> str | None:
    """A tick must divide a day so every day has the same whole number of ticks."""
    ok = is_number(value, True) and 1 <= value <= MINUTES_PER_DAY and MINUTES_PER_DAY % value == 0
    return None if ok else "a divisor of 1440 minutes (e.g. 1, 5, 15, 60, 1440)"


def seed_value(value: Any, cfg: RunConfig) -> str | None:
    """``null`` (fresh entropy, recorded in the run) or a non-negative integer."""
    return None if value is None or (is_number(value, True) and value >= 0) else "null or >= 0"


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
    if not is_number(value, True) or value * row_bytes <= MAX_SEEN_BYTES:
        return None
    return f"at most {MAX_SEEN_BYTES // row_bytes:,} users for {cfg.catalog.n_items:,} items"


def nights_after_first(value: Any, cfg: RunConfig) -> str | None:
    """Night 0 builds the first model; a crash there would leave nothing to serve."""
    ok = all(is_number(d, True) and 1 <= d < cfg.days for d in value)
    return None if ok else f"a list of nights in 1..{cfg.days - 1}"


def days_in_run(value: Any, cfg: RunConfig) -> str | None:
    """A fault on a day the run never reaches would silently do nothing."""
    ok = all(is_number(d, True) and 0 <= d < cfg.days for d in value)
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


def is_number(value: Any, integer: bool) -> bool:
    """An int (a float too unless ``integer``), never a bool, never NaN or ±inf: ``inf``
    passes every lower bound and NaN fails every comparison silently."""
    if isinstance(value, bool):
        return False
    if integer:
        return isinstance(value, int)
    return isinstance(value, (int, float)) and math.isfinite(value)
