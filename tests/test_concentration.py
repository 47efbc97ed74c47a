"""Exposure-concentration metrics and the daily metric rows, against hand-computed values.

Everything here is deterministic: expected values are derived by hand (or from an
independent formula) in the comments, never copied from a run.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from recloop.sim.metrics.catalogue import arm_values
from recloop.sim.metrics.concentration import (
    coverage,
    exposure_entropy,
    gini,
    graveyard,
    share_of,
    top_share,
)
from recloop.sim.metrics.daily import DayTally
from recloop.sim.metrics.inputs import ArmDay
from recloop.sim.pipeline.state import ModelRecord

counts_arrays = arrays(
    np.int64,
    st.integers(1, 60),
    elements=st.integers(0, 1000),
)


def gini_mean_difference(x: np.ndarray) -> float:
    """Independent definition: G = sum_ij |x_i - x_j| / (2 n^2 mean)."""
    x = np.asarray(x, dtype=np.float64)
    return float(np.abs(x[:, None] - x[None, :]).sum() / (2 * x.size**2 * x.mean()))


# ---------------------------------------------------------------------------- gini


@pytest.mark.parametrize("n", [1, 2, 7, 1000])
def test_gini_of_uniform_exposure_is_zero(n: int) -> None:
    assert gini(np.full(n, 13)) == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize(("k", "n"), [(1, 2), (1, 10), (3, 10), (5, 8), (10, 10), (7, 1000)])
def test_gini_of_k_equal_shares_among_n_is_one_minus_k_over_n(k: int, n: int) -> None:
    # n-k zeros and k equal values c: 2c * sum_{i=n-k+1}^{n} i / (n k c) - (n+1)/n = 1 - k/n
    counts = np.zeros(n)
    counts[:k] = 4.0
    assert gini(counts) == pytest.approx(1 - k / n, abs=1e-12)


def test_gini_of_zipf_over_1000_items() -> None:
    # Zipf s=1 over 1,000 items: G = 0.7338..., i.e. 0.734 to three decimals
    weights = 1.0 / np.arange(1, 1001)
    assert round(gini(weights), 3) == 0.734


def test_gini_of_no_exposure_is_zero() -> None:
    assert gini(np.zeros(25)) == 0.0
    assert gini(np.array([], dtype=np.int64)) == 0.0


@given(counts_arrays, st.randoms(use_true_random=False))
@settings(max_examples=100, deadline=None)
def test_gini_is_order_invariant(counts: np.ndarray, random) -> None:
    shuffled = counts.copy()
    random.shuffle(shuffled)
    assert gini(shuffled) == pytest.approx(gini(counts), abs=1e-12)


@given(counts_arrays)
@settings(max_examples=200, deadline=None)
def test_gini_is_bounded_and_matches_mean_difference_form(counts: np.ndarray) -> None:
    g = gini(counts)
    n = counts.size
    # the most unequal case (one item gets everything) gives exactly 1 - 1/n < 1
    assert -1e-12 <= g <= 1 - 1 / n + 1e-12
    assert g < 1
    if counts.sum() > 0:
        assert g == pytest.approx(gini_mean_difference(counts), abs=1e-9)
        # scale invariance: doubling every count changes nothing
        assert gini(2 * counts) == pytest.approx(g, abs=1e-12)


# ---------------------------------------------------------------------------- top_share


def test_top_share_hand_case() -> None:
    counts = np.array([2, 0, 5, 3])  # total 10
    # fraction 0.25 of 4 items -> exactly 1 item (5 of 10)
    assert top_share(counts, 0.25) == pytest.approx(0.5)
    # fraction 0.3 of 4 items -> ceil(1.2) = 2 items (5 + 3 of 10)
    assert top_share(counts, 0.3) == pytest.approx(0.8)
    # fraction 0.51 -> ceil(2.04) = 3 items (5 + 3 + 2)
    assert top_share(counts, 0.51) == pytest.approx(1.0)
    # a fraction that rounds to zero items still takes the single top item
    assert top_share(counts, 1e-6) == pytest.approx(0.5)


def test_top_share_default_is_top_one_percent_rounded_up() -> None:
    # 150 items: ceil(1.5) = 2 top items, with counts 100 and 50 out of 100 + 50 + 148 * 1
    counts = np.ones(150)
    counts[[17, 90]] = [100, 50]
    assert top_share(counts) == pytest.approx(150 / 298)


@pytest.mark.parametrize("n", [1, 5, 1000])
def test_top_share_when_one_item_gets_everything_is_one(n: int) -> None:
    counts = np.zeros(n)
    counts[n // 2] = 42
    assert top_share(counts, 0.01) == 1.0


def test_top_share_of_no_exposure_is_zero() -> None:
    assert top_share(np.zeros(10)) == 0.0


def test_top_share_item_count_is_exact_for_decimal_fractions() -> None:
    # 100 items with counts 100..1: the top 7% are the 7 items 100..94
    counts = np.arange(100, 0, -1).astype(float)
    assert top_share(counts, 0.07) == pytest.approx(sum(range(94, 101)) / counts.sum())


# ---------------------------------------------------------------------------- coverage, entropy


def test_coverage_is_fraction_of_items_shown() -> None:
    assert coverage(np.array([0, 3, 0, 1, 0, 0, 9, 0])) == pytest.approx(3 / 8)
    assert coverage(np.zeros(4)) == 0.0
    assert coverage(np.ones(4)) == 1.0
    assert coverage(np.array([], dtype=np.int64)) == 0.0


@pytest.mark.parametrize("n", [1, 2, 8, 1000])
def test_entropy_of_uniform_exposure_is_log2_n(n: int) -> None:
    assert exposure_entropy(np.full(n, 5)) == pytest.approx(math.log2(n), abs=1e-12)


def test_entropy_of_one_item_is_zero_and_ignores_unshown_items() -> None:
    assert exposure_entropy(np.array([0, 0, 17, 0])) == pytest.approx(0.0, abs=1e-12)
    # p = (1/4, 1/4, 1/2): H = 2 * 1/4 * 2 + 1/2 * 1 = 1.5 bits; zeros do not count
    assert exposure_entropy(np.array([1, 0, 1, 2, 0])) == pytest.approx(1.5)
    assert exposure_entropy(np.zeros(3)) == 0.0


@given(counts_arrays)
@settings(max_examples=100, deadline=None)
def test_entropy_is_between_zero_and_log2_of_items_shown(counts: np.ndarray) -> None:
    h = exposure_entropy(counts)
    shown = int((counts > 0).sum())
    assert -1e-12 <= h <= (math.log2(shown) if shown else 0.0) + 1e-9


# ---------------------------------------------------------------------------- graveyard


def test_graveyard_counts_unshown_items_among_the_best() -> None:
    # 10 items, top_fraction 0.3 -> the 3 best by true value
    value = np.array([0.1, 9.0, 5.0, 9.0, 0.2, 0.3, 7.0, 0.4, 0.5, 0.6])
    counts = np.array([0, 0, 0, 4, 0, 0, 0, 0, 0, 0])
    # best three: items 1 and 3 (tied at 9.0) and 6 (7.0); 1 and 6 unshown, 3 shown.
    # items 0, 2, 4, ... are unshown too but not among the best, so they do not count.
    assert graveyard(counts, value, top_fraction=0.3) == 2


def test_graveyard_tie_at_the_cut_does_not_matter_when_tied_items_agree() -> None:
    # best 3 of 10: item 0 (9), item 1 (8) and one of items 2, 3 (tied at 7);
    # both tied items are unshown, so whichever is picked the answer is 2 (item 1 shown)
    value = np.array([9.0, 8.0, 7.0, 7.0, 1, 1, 1, 1, 1, 1])
    counts = np.array([0, 3, 0, 0, 5, 5, 5, 5, 5, 5])
    assert graveyard(counts, value, top_fraction=0.3) == 2


def test_graveyard_extremes() -> None:
    value = np.linspace(0, 1, 20)
    # ceil(0.1 * 20) = 2 best items
    assert graveyard(np.zeros(20), value) == 2
    assert graveyard(np.ones(20), value) == 0
    # at least one item is always considered
    assert graveyard(np.zeros(20), value, top_fraction=1e-9) == 1
    assert graveyard(np.array([], dtype=np.int64), np.array([])) == 0


# ---------------------------------------------------------------------------- day_metrics


def day_metrics(tally: DayTally, available: np.ndarray, item_value: np.ndarray,
                never_shown: np.ndarray) -> dict[str, float]:
    """An arm's row for day 0 of the launch catalog, after a night that deployed v1."""
    night = ModelRecord(version=1, night=0, status="deployed")
    release = np.zeros(tally.n_items, dtype=int)
    return arm_values(ArmDay(0, tally, available, item_value, never_shown, release, members=10,
                             outage_hours=0.0, night=night, production=1))


def make_tally() -> DayTally:
    """A day with 6 impressions on 5 items (item 3 unreleased), 3 sessions, 2 clicks.

    Slates (genres in GENRE): [0, 1] (one genre), [0, 2] (two), [0, 1] (one).
    """
    tally = DayTally(n_items=5, active_at_start=np.array([8, 2]), n_users=10)
    tally.add_sessions(
        users=np.array([0, 1, 2]),
        items=np.array([[0, 1], [0, 2], [0, 1]]),
        path=np.array([0, 1, 2]),
        clicked=np.array([True, False, True]),
        completed=np.array([True, False, False]),
        utility=np.array([1.5, 9.0, 0.5]),  # the unclicked session's 9.0 must not count
        genre=GENRE,
        watched=np.array([0.9, 0.7, 0.3]),  # the unclicked session's 0.7 must not count
    )
    tally.add_churn(np.array([0, 1, 1]))  # one mainstream, two niche
    return tally


GENRE = np.array([0, 0, 1, 1, 2])
AVAILABLE = np.array([True, True, True, False, True])
ITEM_VALUE = np.array([0.0, 1.0, 2.0, 100.0, 3.0])  # unreleased item 3 is the "best"


def test_day_metrics_online_rates() -> None:
    m = day_metrics(make_tally(), AVAILABLE, ITEM_VALUE, never_shown=np.zeros(5, bool))
    assert m["impressions"] == 6.0
    assert m["sessions"] == 3.0
    assert m["ctr"] == pytest.approx(2 / 6)  # clicks / impressions, not / sessions
    assert m["completion_rate"] == pytest.approx(1 / 2)  # completed / clicks
    assert m["mean_true_utility"] == pytest.approx((1.5 + 0.5) / 2)
    assert m["watch_per_session"] == pytest.approx((0.9 + 0.3) / 3)
    assert m["churn_rate_mainstream"] == pytest.approx(1 / 8)
    assert m["churn_rate_niche"] == pytest.approx(2 / 2)
    assert m["active_users"] == 10 - 3
    # pairs (0,1): same genre; (0,2): different; (0,1) again: same -> 1 of 3 slates diverse
    assert m["intra_list_diversity"] == pytest.approx(1 / 3)
    for path in ("batch", "realtime", "popular"):
        assert m[f"served_{path}_share"] == pytest.approx(1 / 3)
    assert all(isinstance(v, float) for v in m.values())


def test_day_metrics_exposure_is_over_released_items_only() -> None:
    never_shown = np.array([False, False, False, True, True])
    m = day_metrics(make_tally(), AVAILABLE, ITEM_VALUE, never_shown)
    released_counts = np.array([3, 2, 1, 0])  # items 0, 1, 2, 4
    assert m["coverage"] == pytest.approx(3 / 4)  # over all 5 items it would be 3/5
    assert m["gini"] == pytest.approx(gini_mean_difference(released_counts))
    # H of (3, 2, 1)/6
    p = np.array([3, 2, 1]) / 6
    assert m["exposure_entropy"] == pytest.approx(float(-(p * np.log2(p)).sum()))
    # 1% of 4 items -> ceil(0.04) = 1 item: 3 of 6 impressions
    assert m["top1_share"] == pytest.approx(0.5)
    # best ceil(0.1 * 4) = 1 released item is item 4 (value 3.0): unshown today and ever.
    # Item 3 (value 100) is unreleased, so it must not enter the graveyard.
    assert m["graveyard"] == 1.0
    assert m["graveyard_never_shown"] == 1.0


def test_day_metrics_graveyard_never_shown_uses_history_not_today() -> None:
    # item 4 unshown today but shown on an earlier day: today's graveyard 1, all-time 0
    never_shown = np.array([False, False, False, True, False])
    m = day_metrics(make_tally(), AVAILABLE, ITEM_VALUE, never_shown)
    assert m["graveyard"] == 1.0
    assert m["graveyard_never_shown"] == 0.0


def test_day_metrics_are_nan_when_a_denominator_is_zero() -> None:
    tally = DayTally(n_items=4, active_at_start=np.array([5, 0]), n_users=5)
    m = day_metrics(tally, np.ones(4, bool), np.arange(4.0), np.ones(4, bool))
    for name in ("ctr", "completion_rate", "mean_true_utility", "churn_rate_niche"):
        assert math.isnan(m[name]), name
    assert m["churn_rate_mainstream"] == 0.0  # 0 of 5 is a real zero, not a gap
    assert m["impressions"] == 0.0
    assert m["gini"] == 0.0
    assert m["coverage"] == 0.0


def test_day_metrics_completion_rate_nan_with_impressions_but_no_clicks() -> None:
    tally = DayTally(n_items=3, active_at_start=np.array([1, 1]), n_users=2)
    tally.add_sessions(np.array([0]), np.array([[0, 1, 2]]), np.array([0]), np.array([False]), np.array([False]),
                       np.array([0.3]), np.zeros(3, dtype=int), watched=np.array([0.0]))
    m = day_metrics(tally, np.ones(3, bool), np.zeros(3), np.zeros(3, bool))
    assert m["ctr"] == 0.0
    assert math.isnan(m["completion_rate"])
    assert math.isnan(m["mean_true_utility"])


def test_share_of_members() -> None:
    counts = np.array([5, 0, 3, 2])
    assert share_of(counts, np.array([True, True, False, False])) == pytest.approx(0.5)
    assert share_of(np.zeros(3), np.ones(3, bool)) == 0.0
