"""The choice model: examination curves, the one-click cascade, and ``respond`` by Monte Carlo.

Statistical tests compare observed rates with the analytic values of the module docstring,
with a tolerance in binomial (or sample) standard errors stated next to each assertion.
Tail probabilities quoted are two-sided normal: 4 SE -> 6.3e-5, 4.5 SE -> 6.8e-6 per check.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.special import expit

from recloop.agents.catalog import Catalog, CatalogConfig, generate_catalog
from recloop.agents.choice import (
    MIN_WATCH,
    ChoiceConfig,
    attraction,
    click_probabilities,
    examination,
    respond,
    true_utility,
    utility_for_all_items,
)
from recloop.agents.population import Population, PopulationConfig, generate_population

K = 8


@pytest.fixture(scope="module")
def world() -> tuple[Catalog, Population]:
    """A 50-item catalog (one in five items clickbait) and 20 users."""
    rng = np.random.default_rng(20240611)
    catalog = generate_catalog(CatalogConfig(n_items=50, n_genres=5, clickbait_fraction=0.2), rng)
    population = generate_population(PopulationConfig(n_users=20), catalog, rng)
    return catalog, population


def analytic(
    taste: np.ndarray, items: np.ndarray, catalog: Catalog, cfg: ChoiceConfig
) -> tuple[np.ndarray, np.ndarray]:
    """P(click at j) per row and position, and the mean completion of each shown item."""
    shown = items >= 0
    safe = np.where(shown, items, 0)
    utility = true_utility(taste, safe, catalog, cfg)
    attract = attraction(utility, safe, catalog, cfg) * shown
    p = click_probabilities(examination(items.shape[1], cfg), attract)
    mean_completion = expit(cfg.completion_bias + cfg.completion_utility * utility)
    return p, mean_completion


def replicate(taste: np.ndarray, items: np.ndarray, reps: int) -> tuple[np.ndarray, np.ndarray]:
    """Each (user, slate) row repeated ``reps`` times, base rows blocked together."""
    return np.repeat(taste, reps, axis=0), np.repeat(items, reps, axis=0)


# ---------------------------------------------------------------------------- examination


def test_log_examination_is_inverse_log2_of_rank_plus_one() -> None:
    e = examination(6, ChoiceConfig(position_bias="log"))
    assert e[0] == 1.0
    assert e == pytest.approx([1 / math.log2(r + 1) for r in range(1, 7)], rel=1e-12)
    assert np.all(np.diff(e) < 0)


@pytest.mark.parametrize("decay", [0.0, 0.5, 0.85, 1.0])
def test_geometric_examination_is_decay_to_rank_minus_one(decay: float) -> None:
    e = examination(5, ChoiceConfig(position_bias="geometric", geometric_decay=decay))
    assert e == pytest.approx([decay**r for r in range(5)], rel=1e-12, abs=1e-15)
    assert e[0] == 1.0


def test_unknown_position_bias_raises() -> None:
    with pytest.raises(ValueError, match="position_bias"):
        examination(3, ChoiceConfig(position_bias="cascade"))


# ---------------------------------------------------------------------------- cascade formula


def test_click_probabilities_hand_case() -> None:
    exam = np.array([1.0, 0.5, 0.25])
    attract = np.array([0.2, 0.4, 0.8])
    # e*c = 0.2 everywhere: P = 0.2, 0.8 * 0.2, 0.8^2 * 0.2
    p = click_probabilities(exam, attract)
    assert p == pytest.approx([0.2, 0.16, 0.128], abs=1e-12)
    assert p.sum() == pytest.approx(1 - 0.8**3, abs=1e-12)


def test_click_probabilities_stop_after_a_certain_click() -> None:
    # an examined, surely attractive item at position 2 takes all the mass behind it
    p = click_probabilities(np.ones(4), np.array([0.5, 1.0, 0.9, 0.9]))
    assert p == pytest.approx([0.5, 0.5, 0.0, 0.0], abs=1e-12)


unit = st.floats(0.0, 1.0, allow_nan=False)


@given(
    arrays(np.float64, st.tuples(st.integers(1, 4), st.integers(1, 12)), elements=unit),
    arrays(np.float64, st.integers(1, 12), elements=unit),
)
@settings(max_examples=80, deadline=None)
def test_click_probabilities_match_closed_form(attract: np.ndarray, exam_row: np.ndarray) -> None:
    k = attract.shape[1]
    exam = np.resize(exam_row, k)  # broadcast one examination curve over rows
    p = click_probabilities(exam, attract)
    assert p.shape == attract.shape
    hit = exam * attract
    for row in range(attract.shape[0]):
        for j in range(k):
            expected = hit[row, j] * np.prod(1 - hit[row, :j])
            assert p[row, j] == pytest.approx(expected, abs=1e-12)
    assert p.sum(axis=1) == pytest.approx(1 - np.prod(1 - hit, axis=1), abs=1e-12)
    assert np.all(p >= 0)


# ---------------------------------------------------------------------------- respond, Monte Carlo


def fixed_slates(catalog: Catalog, rng: np.random.Generator) -> np.ndarray:
    """Four slates of K distinct items; slate 2 is padded at the end, slate 3 in the middle."""
    slates = np.stack([rng.permutation(catalog.n_items)[:K] for _ in range(4)])
    slates[2, 5:] = -1
    slates[3, [1, 4]] = -1
    return slates


def test_respond_matches_analytic_click_rates(world: tuple[Catalog, Population]) -> None:
    catalog, pop = world
    cfg = ChoiceConfig()
    rng = np.random.default_rng(7)
    base_users = np.array([0, 5, 11, 19])
    items = fixed_slates(catalog, rng)
    p, mean_completion = analytic(pop.taste[base_users], items, catalog, cfg)

    reps = 50_000  # 4 slates x 50k = 200k rows
    taste, slates = replicate(pop.taste[base_users], items, reps)
    resp = respond(taste, slates, catalog, cfg, rng)
    position = resp.click_position.astype(int).reshape(4, reps)

    # per (slate, position): 32 checks at 4.5 binomial SE -> family-wise false failure < 3e-4
    for b in range(4):
        for j in range(K):
            observed = np.mean(position[b] == j)
            if p[b, j] == 0:
                assert observed == 0, "a padded slot was clicked"
                continue
            se = math.sqrt(p[b, j] * (1 - p[b, j]) / reps)
            assert abs(observed - p[b, j]) < 4.5 * se, (b, j, observed, p[b, j])

    # overall CTR = clicks / impressions (shown slots only); clicks is a sum of independent
    # Bernoulli(P(slate clicked)) -> 4 SE, false failure < 1e-4
    p_slate = p.sum(axis=1)
    impressions = reps * (items >= 0).sum()
    ctr_expected = reps * p_slate.sum() / impressions
    ctr_se = math.sqrt(reps * (p_slate * (1 - p_slate)).sum()) / impressions
    ctr = resp.clicked.sum() / impressions
    assert abs(ctr - ctr_expected) < 4 * ctr_se

    # completion of the clicked item: E[f | click] = sum_j p_j m_j / sum_j p_j per slate;
    # 4 checks at 4.5 sample SE -> family-wise false failure < 3e-5
    completion = resp.completion.reshape(4, reps)
    for b in range(4):
        clicked = position[b] >= 0
        expected = (p[b] * mean_completion[b]).sum() / p[b].sum()
        se = completion[b, clicked].std(ddof=1) / math.sqrt(clicked.sum())
        assert abs(completion[b, clicked].mean() - expected) < 4.5 * se, b


def test_respond_structure(world: tuple[Catalog, Population]) -> None:
    catalog, pop = world
    cfg = ChoiceConfig()
    rng = np.random.default_rng(8)
    items = np.repeat(fixed_slates(catalog, rng), 5_000, axis=0)
    users = rng.integers(0, pop.n_users, size=items.shape[0])
    resp = respond(pop.taste[users], items, catalog, cfg, rng)

    pos = resp.click_position.astype(int)
    # one position per row: at most one click per slate by construction
    assert pos.shape == (items.shape[0],)
    assert np.all((pos >= -1) & (pos < K))
    assert np.array_equal(resp.clicked, pos >= 0)
    # a clicked position always holds a real item, never -1 padding
    clicked_items = items[resp.clicked, pos[resp.clicked]]
    assert np.all(clicked_items >= 0)
    # completion is 0 without a click and a finite fraction with one
    assert np.all(resp.completion[~resp.clicked] == 0)
    f = resp.completion[resp.clicked]
    assert np.all(np.isfinite(f)) and np.all((f >= 0) & (f <= 1))
    assert resp.utility.shape == items.shape
    safe = np.where(items >= 0, items, 0)
    expected_utility = true_utility(pop.taste[users], safe, catalog, cfg)
    shown = items >= 0
    np.testing.assert_allclose(resp.utility[shown], expected_utility[shown], rtol=1e-5, atol=1e-5)


def test_completion_of_a_moderate_click_is_strictly_inside_unit_interval(
    world: tuple[Catalog, Population],
) -> None:
    # |U| <= 2 keeps the Beta parameters >= 6 * expit(-2) = 0.71, far from float32 endpoints
    catalog, pop = world
    cfg = ChoiceConfig(affinity_weight=1.0, quality_weight=0.0)
    rng = np.random.default_rng(9)
    items = rng.integers(0, catalog.n_items, size=(50_000, 3))
    resp = respond(pop.taste[rng.integers(0, pop.n_users, 50_000)], items, catalog, cfg, rng)
    f = resp.completion[resp.clicked]
    assert f.size > 1000
    assert np.all((f > 0) & (f < 1))


def test_completion_of_any_click_is_never_the_no_click_value(
    world: tuple[Catalog, Population],
) -> None:
    # |U| up to 6 is reachable with the default weights (3 * cos + 0.7 * quality); here the
    # worst and best item by quality get U = -6 and +6, and a high click bias gets both clicked
    catalog, pop = world
    scale = 6.0 / float(np.abs(catalog.quality).max())
    cfg = ChoiceConfig(affinity_weight=0.0, quality_weight=scale, click_bias=5.0)
    rng = np.random.default_rng(10)
    extreme = np.array([np.argmin(catalog.quality), np.argmax(catalog.quality)])
    items = np.repeat(extreme, 20_000)[:, None]
    resp = respond(pop.taste[np.zeros(items.shape[0], dtype=int)], items, catalog, cfg, rng)
    f = resp.completion[resp.clicked]
    assert np.all((f >= MIN_WATCH) & (f <= 1))


def test_click_positions_beyond_127_are_kept(world: tuple[Catalog, Population]) -> None:
    catalog, pop = world
    rng = np.random.default_rng(11)
    items = np.full((2_000, 200), -1)
    items[:, 150:] = np.arange(50)  # only positions 150..199 hold items
    resp = respond(pop.taste[np.zeros(2_000, dtype=int)], items, catalog, ChoiceConfig(), rng)
    pos = resp.click_position.astype(int)
    assert np.all((pos == -1) | (pos >= 150))
    assert np.all(resp.completion[pos == -1] == 0)


# ---------------------------------------------------------------------------- monotone effects


def test_completion_increases_with_true_utility(world: tuple[Catalog, Population]) -> None:
    catalog, pop = world
    cfg = ChoiceConfig()
    rng = np.random.default_rng(12)
    utility = utility_for_all_items(pop.taste, catalog, cfg)
    order = np.argsort(-utility, axis=1)
    top, bottom = order[:, :K], order[:, -K:]

    reps = 5_000  # 20 users x 5k = 100k rows per arm
    taste = np.repeat(pop.taste, reps, axis=0)
    means, ses = [], []
    for slates in (top, bottom):
        resp = respond(taste, np.repeat(slates, reps, axis=0), catalog, cfg, rng)
        f = resp.completion[resp.clicked].astype(np.float64)
        means.append(f.mean())
        ses.append(f.std(ddof=1) / math.sqrt(f.size))
    # the difference must exceed 4 SE of the difference: false failure < 1e-4 if the
    # (large, ~0.5) effect is real, and a model where completion ignores utility fails
    assert means[0] - means[1] > 4 * math.hypot(*ses)


def test_clickbait_attracts_more_but_is_watched_less(world: tuple[Catalog, Population]) -> None:
    catalog, pop = world
    cfg = ChoiceConfig()
    rng = np.random.default_rng(13)
    bait = catalog.clickbait
    assert 3 <= bait.sum() <= 47, "the fixture catalog needs both kinds of item"

    # every (user, item) pair as a one-item slate, 200 times: 20 x 50 x 200 = 200k rows
    users, item = np.meshgrid(np.arange(pop.n_users), np.arange(catalog.n_items), indexing="ij")
    users, item = users.ravel(), item.ravel()
    reps = 200
    resp = respond(
        np.repeat(pop.taste[users], reps, axis=0),
        np.repeat(item, reps)[:, None],
        catalog,
        cfg,
        rng,
    )
    is_bait = np.repeat(bait[item], reps)
    clicked = resp.clicked
    f = resp.completion.astype(np.float64)

    def mean_se(x: np.ndarray) -> tuple[float, float]:
        return float(x.mean()), float(x.std(ddof=1) / math.sqrt(x.size))

    # attraction (= click rate of a one-item slate, rank 1 is always examined): higher for bait
    (ctr_b, se_b), (ctr_n, se_n) = mean_se(clicked[is_bait]), mean_se(clicked[~is_bait])
    assert ctr_b - ctr_n > 4 * math.hypot(se_b, se_n)  # 4 SE: false failure < 1e-4
    # completion given a click: lower for bait
    (fb, sb), (fn, sn) = mean_se(f[clicked & is_bait]), mean_se(f[clicked & ~is_bait])
    assert fn - fb > 4 * math.hypot(sb, sn)

    # the same ordering holds for the analytic quantities behind the draws
    u = utility_for_all_items(pop.taste, catalog, cfg)
    c = attraction(u, np.arange(catalog.n_items)[None, :], catalog, cfg)
    m = expit(cfg.completion_bias + cfg.completion_utility * u)
    assert c[:, bait].mean() > c[:, ~bait].mean()
    assert m[:, bait].mean() < m[:, ~bait].mean()


def test_smaller_geometric_decay_lowers_clicks_at_lower_positions(
    world: tuple[Catalog, Population],
) -> None:
    catalog, pop = world
    rng = np.random.default_rng(14)
    # each user's most useful items, so attraction is large enough to show the effect
    u = utility_for_all_items(pop.taste, catalog, ChoiceConfig())
    slates = np.argsort(-u, axis=1)[:, :K]
    reps = 5_000  # 100k rows per decay
    taste, items = replicate(pop.taste, slates, reps)
    rates = {}
    for decay in (0.5, 0.9):
        cfg = ChoiceConfig(position_bias="geometric", geometric_decay=decay)
        pos = respond(taste, items, catalog, cfg, rng).click_position.astype(int)
        rates[decay] = np.array([np.mean(pos == j) for j in range(K)])
    n = items.shape[0]
    se = np.sqrt((rates[0.5] * (1 - rates[0.5]) + rates[0.9] * (1 - rates[0.9])) / n)
    # positions 2..K: lower with decay 0.5; 7 checks at 4 SE of the difference -> < 5e-4
    assert np.all(rates[0.9][1:] - rates[0.5][1:] > 4 * se[1:])
    # position 1 is examined with certainty under both decays: equal within 4.5 SE
    assert abs(rates[0.9][0] - rates[0.5][0]) < 4.5 * se[0]
