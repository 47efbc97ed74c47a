"""The sample-ratio check an A/B test reads each day (its effects are in the catalogue).

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

AB_ROWS = "ab"  # the arm label of test-level rows in the metrics table
SRM_ALPHA = 0.001  # the usual threshold: below it, distrust the test


def srm_p_value(observed: Sequence[float], shares: Sequence[float]) -> float:
    """Chi-square goodness of fit of observed unit counts to the configured shares."""
    counts = np.asarray(observed, dtype=float)
    if counts.sum() == 0:
        return float("nan")
    expected = counts.sum() * np.asarray(shares, dtype=float)
    return float(chisquare(counts, expected).pvalue)
