"""Off-policy estimates of a target policy's CTR from a logging policy's impressions.

Item-position inverse propensity scoring: every logged impression of item i at position j
is reweighted by π(i at j) / μ(i at j), where μ is the logging policy's propensity (logged
with the impression) and π the target policy's. Under the position-based click model each
(item, position) pair's click probability does not depend on the rest of the slate, so

    IPS   = (1/N) Σ clicked · w            (unbiased when μ > 0 wherever π > 0)
    SNIPS = Σ clicked · w / Σ w            (self-normalised: biased, lower variance)

estimate the target's clicks per impression. Standard errors are the usual sample ones
(delta method for SNIPS), so a 95% interval is ±1.96 SE.

recloop's users click at most once, on the first examined and attractive item, so a click
at position j also depends on the items above j: the position-based assumption fails and
item-position IPS is biased for whole slates. ``cascade_ips`` weights the click at j by
the ratio for the whole prefix 0..j instead (reward-interaction IPS), which is unbiased
when a click at j depends only on the items at positions up to j, as here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Estimate:
    """A point estimate with its standard error, or NaN and the reason it cannot be made."""

    value: float
    se: float
    n: int
    note: str = ""

    def interval(self, z: float = 1.96) -> tuple[float, float]:
        return self.value - z * self.se, self.value + z * self.se


def importance_weights(
    target_prob: np.ndarray, logging_prop: np.ndarray
) -> tuple[np.ndarray | None, str]:
    """π/μ per impression, or None with a note when the logging propensities cannot support π."""
    missing = np.isnan(logging_prop)
    if missing.any():
        return None, f"{int(missing.sum())} impressions lack a logged propensity"
    uncovered = (target_prob > 0) & (logging_prop <= 0)
    if uncovered.any():
        return None, f"{int(uncovered.sum())} impressions the target would show have μ = 0"
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(target_prob > 0, target_prob / logging_prop, 0.0), ""


def ips(clicked: np.ndarray, target_prob: np.ndarray, logging_prop: np.ndarray) -> Estimate:
    """Inverse propensity scoring estimate of clicks per impression."""
    w, note = importance_weights(target_prob, logging_prop)
    n = clicked.size
    if w is None or n == 0:
        return Estimate(float("nan"), float("nan"), n, note or "no impressions")
    x = clicked * w
    return Estimate(float(x.mean()), float(x.std(ddof=1) / np.sqrt(n)) if n > 1 else np.nan, n)


def snips(clicked: np.ndarray, target_prob: np.ndarray, logging_prop: np.ndarray) -> Estimate:
    """Self-normalised IPS: the weighted click rate over the weighted impressions."""
    w, note = importance_weights(target_prob, logging_prop)
    n = clicked.size
    if w is None or n == 0 or w.sum() == 0:
        return Estimate(float("nan"), float("nan"), n, note or "no weight on the target's items")
    value = float((clicked * w).sum() / w.sum())
    residual = w * (clicked - value)
    se = float(np.sqrt((residual**2).sum()) / w.sum())
    return Estimate(value, se, n)


def cascade_ips(clicked: np.ndarray, target_prob: np.ndarray, logging_prop: np.ndarray,
                shown: int | None = None) -> Estimate:
    """Prefix-weighted IPS of clicks per impression over whole slates (arrays are n × k).

    The weight of slot j is the product of the per-slot ratios π/μ over slots 0..j. That
    product is the prefix's probability ratio when the per-slot probabilities are
    conditional on the slots above, as they are for two ε-greedy policies over one base
    ranking (their pool-draw factors cancel), batch lists worn down by watches included
    (``policies.shifted``); for other pairs it is an approximation.
    Sessions are the independent units of the standard error. ``shown`` is the number of
    impressions in the slates (default: all n × k slots), the CTR's denominator.
    """
    w, note = importance_weights(target_prob.ravel(), logging_prop.ravel())
    n = clicked.shape[0]
    if w is None or n == 0:
        return Estimate(float("nan"), float("nan"), n, note or "no sessions")
    prefix = np.cumprod(w.reshape(clicked.shape), axis=1)
    per_session = (clicked * prefix).sum(axis=1)
    per_impression = n / max(shown, 1) if shown is not None else 1 / clicked.shape[1]
    se = float(per_session.std(ddof=1) / np.sqrt(n)) if n > 1 else float("nan")
    return Estimate(float(per_session.mean()) * per_impression, se * per_impression, n)


SLATE_COLUMNS = ["session", "user", "position", "item", "propensity", "clicked"]
NEVER_EXPLORED = "the logging policy never explored (every propensity is 1): no support"


def logged_slates(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A day's impressions (``SLATE_COLUMNS``) as per-session rows: users, and n × k items
    (-1 where nothing was shown), logging propensities and clicks."""
    sessions, row = np.unique(frame["session"].to_numpy(), return_inverse=True)
    pos = frame["position"].to_numpy(np.int64)
    k = int(pos.max()) + 1 if pos.size else 0
    items = np.full((sessions.size, k), -1, dtype=np.int64)
    prop = np.ones((sessions.size, k))  # empty slots: weight 1, never clicked
    clicked = np.zeros((sessions.size, k), dtype=bool)
    items[row, pos] = frame["item"].to_numpy()
    prop[row, pos] = frame["propensity"].to_numpy(np.float64)
    clicked[row, pos] = frame["clicked"].to_numpy(bool)
    users = np.zeros(sessions.size, dtype=np.int64)
    users[row] = frame["user"].to_numpy()
    return users, items, prop, clicked


def explored(items: np.ndarray, logging_prop: np.ndarray) -> bool:
    """Did the logging policy ever show anything with probability below 1? If not, the log
    holds no information about any other ranking."""
    return not np.all(logging_prop[items >= 0] == 1.0)


def slate_estimates(items: np.ndarray, logging_prop: np.ndarray, clicked: np.ndarray,
                    target_prob: np.ndarray | None) -> dict[str, Estimate]:
    """IPS, SNIPS and cascade IPS of a target's CTR from per-session logged slates (n × k,
    ``items`` -1 where nothing was shown), or NaN estimates with the reason they cannot be
    made: a target that states no probabilities, or a logger that never explored."""
    shown = items >= 0
    n = int(items.shape[0])
    note = ""
    if not explored(items, logging_prop):
        note = NEVER_EXPLORED
    elif target_prob is None:
        note = "the candidate states no probabilities (a stochastic policy without propensities)"
    if note:
        nan = Estimate(float("nan"), float("nan"), n, note)
        return {"ips": nan, "snips": nan, "cascade_ips": nan}
    assert target_prob is not None
    return {
        "ips": ips(clicked[shown], target_prob[shown], logging_prop[shown]),
        "snips": snips(clicked[shown], target_prob[shown], logging_prop[shown]),
        "cascade_ips": cascade_ips(clicked, np.where(shown, target_prob, 1.0), logging_prop,
                                   int(shown.sum())),
    }
