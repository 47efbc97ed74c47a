"""Synthetic users and catalog: generation statistics.

Statistical checks state their tolerance in standard errors next to the assertion
(two-sided normal tails: 4 SE -> 6.3e-5, 5 SE -> 5.7e-7 per check).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.special import chdtrc

from recloop.agents.catalog import Catalog, CatalogConfig, generate_catalog, zipf_weights
from recloop.agents.population import (
    MAINSTREAM,
    NICHE,
    Population,
    PopulationConfig,
    generate_population,
)

N_USERS = 20_000
POP_CFG = PopulationConfig(n_users=N_USERS, niche_fraction=0.3, sessions_per_day=2.5)
CAT_CFG = CatalogConfig(n_items=4_000, clickbait_fraction=0.1, initial_fraction=0.8)


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return generate_catalog(CAT_CFG, np.random.default_rng(101))


@pytest.fixture(scope="module")
def population(catalog: Catalog) -> Population:
    return generate_population(POP_CFG, catalog, np.random.default_rng(102))


def binomial_se(p: float, n: int) -> float:
    return math.sqrt(p * (1 - p) / n)


def chisquare_pvalue(observed: np.ndarray, expected: np.ndarray) -> float:
    """Pearson goodness-of-fit p-value with len - 1 degrees of freedom."""
    statistic = float(((observed - expected) ** 2 / expected).sum())
    return float(chdtrc(observed.size - 1, statistic))


# ---------------------------------------------------------------------------- population


def test_niche_share_matches_niche_fraction(population: Population) -> None:
    share = np.mean(population.segment == NICHE)
    assert set(np.unique(population.segment)) <= {MAINSTREAM, NICHE}
    # 4 binomial SE: false failure < 1e-4
    assert abs(share - POP_CFG.niche_fraction) < 4 * binomial_se(POP_CFG.niche_fraction, N_USERS)


def test_activity_is_lognormal_with_the_requested_mean(population: Population) -> None:
    a = population.activity
    assert np.all(a > 0)
    # mean: 5 sample SE (false failure < 1e-6; the log-normal tail makes the sample SE
    # itself noisy, hence the wider band)
    se = a.std(ddof=1) / math.sqrt(a.size)
    assert abs(a.mean() - POP_CFG.sessions_per_day) < 5 * se
    # log(activity) ~ N(log(mean) - sigma^2/2, sigma^2): mean within 4 SE of sigma/sqrt(n)
    sigma = POP_CFG.activity_sigma
    mu = math.log(POP_CFG.sessions_per_day) - sigma**2 / 2
    assert abs(np.log(a).mean() - mu) < 4 * sigma / math.sqrt(a.size)
    # and its sd within 4 SE of sigma / sqrt(2n) (normal-theory SE of a sample sd)
    assert abs(np.log(a).std(ddof=1) - sigma) < 4 * sigma / math.sqrt(2 * a.size)


def test_zero_activity_sigma_gives_everyone_the_mean(catalog: Catalog) -> None:
    cfg = PopulationConfig(n_users=50, activity_sigma=0.0, sessions_per_day=3.0)
    pop = generate_population(cfg, catalog, np.random.default_rng(103))
    assert pop.activity == pytest.approx(np.full(50, 3.0), rel=1e-12)


def test_tastes_are_unit_vectors(population: Population, catalog: Catalog) -> None:
    assert population.taste.shape == (N_USERS, catalog.genre_centres.shape[1])
    norms = np.linalg.norm(population.taste.astype(np.float64), axis=1)
    assert norms == pytest.approx(np.ones(N_USERS), abs=1e-5)  # float32 rounding


def test_niche_users_lean_toward_small_genres(population: Population, catalog: Catalog) -> None:
    shares = catalog.genre_shares()
    small = shares < np.median(shares)
    assert small.sum() >= 5 and np.all(shares[small] > 0)
    # how close each user is to the small genres: mean cosine to their centres
    closeness = population.taste @ catalog.genre_centres[small].T
    closeness = closeness.mean(axis=1).astype(np.float64)
    niche = closeness[population.segment == NICHE]
    main = closeness[population.segment == MAINSTREAM]
    se = math.hypot(
        niche.std(ddof=1) / math.sqrt(niche.size), main.std(ddof=1) / math.sqrt(main.size)
    )
    # difference of means beyond 4 SE of the difference: false failure < 1e-4 if the effect
    # is real; a model that ignored segments would fail
    assert niche.mean() - main.mean() > 4 * se


# ---------------------------------------------------------------------------- catalog


def test_catalog_vectors_are_unit(catalog: Catalog) -> None:
    for rows in (catalog.vectors, catalog.genre_centres):
        norms = np.linalg.norm(rows.astype(np.float64), axis=1)
        assert norms == pytest.approx(np.ones(rows.shape[0]), abs=1e-5)


def test_clickbait_items_have_high_appeal_and_low_quality(catalog: Catalog) -> None:
    bait = catalog.clickbait
    # share of clickbait: 4 binomial SE, false failure < 1e-4
    p, n = CAT_CFG.clickbait_fraction, catalog.n_items
    assert abs(bait.mean() - p) < 4 * binomial_se(p, n)
    # by construction appeal = |z| + 2 and quality = -|z| - 1
    assert np.all(catalog.appeal[bait] >= 2.0)
    assert np.all(catalog.quality[bait] <= -1.0)
    assert catalog.appeal[bait].mean() > catalog.appeal[~bait].mean() + 2
    assert catalog.quality[bait].mean() < catalog.quality[~bait].mean() - 1


def test_release_days(catalog: Catalog) -> None:
    days = catalog.release_day.astype(int)
    assert days.min() >= 0 and days.max() <= CAT_CFG.release_days
    # share released at day 0 = initial_fraction: 4 binomial SE, false failure < 1e-4
    p, n = CAT_CFG.initial_fraction, catalog.n_items
    assert abs(np.mean(days == 0) - p) < 4 * binomial_se(p, n)
    # later items uniform over 1..release_days: chi-square test at alpha = 1e-4
    later = np.bincount(days[days > 0], minlength=CAT_CFG.release_days + 1)[1:]
    assert chisquare_pvalue(later, np.full(later.size, later.mean())) > 1e-4
    # availability only grows
    assert catalog.available(0).sum() == np.sum(days == 0)
    assert catalog.available(CAT_CFG.release_days).all()


def test_genre_sizes_follow_zipf(catalog: Catalog) -> None:
    observed = np.bincount(catalog.genre, minlength=CAT_CFG.n_genres)
    expected = zipf_weights(CAT_CFG.n_genres, CAT_CFG.genre_skew) * catalog.n_items
    # chi-square goodness of fit at alpha = 1e-4
    assert chisquare_pvalue(observed, expected) > 1e-4
    assert catalog.genre_shares().sum() == pytest.approx(1.0)
