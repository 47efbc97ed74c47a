"""What an A/B test reads each day: treatment − control effects and a sample-ratio check.

Effects are differences of ratio metrics whose standard errors come from per-user sums
(``sim/metrics/daily.py``); the two arms hold disjoint users, so the difference's error is
the root sum of squares and a 95% interval is ±1.96 SE. The sample-ratio-mismatch (SRM)
check asks whether the users who have had at least one session so far split as the
configured shares say. Counting users ever exposed, not today's active ones, keeps a
treatment that makes users churn from looking like a broken split; a tiny p-value then
means the assignment or the logging lost users of one arm.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.stats import chisquare

from sim.arms import CONTROL, TREATMENT, Arm
from sim.metrics.daily import RATIO_PARTS

AB_ROWS = "ab"  # the arm label of test-level rows in the metrics table
SRM_ALPHA = 0.001  # the usual threshold: below it, distrust the test


def srm_p_value(observed: Sequence[float], shares: Sequence[float]) -> float:
    """Chi-square goodness of fit of observed unit counts to the configured shares."""
    counts = np.asarray(observed, dtype=float)
    if counts.sum() == 0:
        return float("nan")
    expected = counts.sum() * np.asarray(shares, dtype=float)
    return float(chisquare(counts, expected).pvalue)


def ab_metrics(arms: Sequence[Arm], share: float) -> dict[str, float]:
    """Today's effects (treatment − control) with standard errors, and the SRM p-value."""
    by_name = {arm.name: arm for arm in arms}
    control, treatment = by_name[CONTROL], by_name[TREATMENT]
    out: dict[str, float] = {}
    for metric in RATIO_PARTS:
        t, t_se = treatment.tally.per_user.ratio(metric)
        c, c_se = control.tally.per_user.ratio(metric)
        out[f"effect_{metric}"] = t - c
        out[f"effect_{metric}_se"] = float(np.hypot(t_se, c_se))
    exposed = [float(arm.ever_served.sum()) for arm in (control, treatment)]
    out["srm_p_value"] = srm_p_value(exposed, [1 - share, share])
    return out
