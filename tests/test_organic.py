"""The organic channel: what users find on their own, how it is logged, and that it trains.

Statistical checks state their tolerance next to the assertion.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from agent_contract import small_catalog
from scipy.stats import chi2_contingency, chisquare

from recloop.agents import organic
from recloop.agents.choice import ChoiceConfig, utility_for_all_items
from recloop.agents.organic import OrganicConfig, find
from recloop.agents.playable import Unwatched
from recloop.policies.bits import BitMatrix
from recloop.sim.config import RunConfig
from recloop.sim.story import simulate

MakeConfig = Callable[..., RunConfig]


@pytest.mark.parametrize("sampler", ["scan", "rejection"])
@pytest.mark.parametrize("taste_weight", [1.5, 8.0])  # 8: most proposals are rejected
def test_a_found_item_follows_the_softmax_of_taste_and_popularity(sampler: str,
                                                                   taste_weight: float) -> None:
    """One user, five allowed items: counts against exp(β_t U + β_p log(1 + plays))."""
    catalog, choice = small_catalog(), ChoiceConfig()
    cfg = OrganicConfig(per_session=1.0, taste_weight=taste_weight, popularity_weight=0.8,
                        sampler=sampler)
    taste = np.random.default_rng(1).normal(size=(1, catalog.vectors.shape[1]))
    taste = (taste / np.linalg.norm(taste)).astype(np.float32)
    allowed = np.zeros((20_000, catalog.n_items), dtype=bool)
    allowed[:, [3, 9, 14, 27, 40]] = True
    plays = np.zeros(catalog.n_items)
    plays[[3, 9, 14, 27, 40]] = [0, 5, 50, 1, 10]
    found = find(np.repeat(taste, 20_000, axis=0), allowed, plays, catalog, choice, cfg,
                 np.random.default_rng(2))
    utility = utility_for_all_items(taste, catalog, choice)[0, [3, 9, 14, 27, 40]]
    logit = taste_weight * utility + 0.8 * np.log1p(plays[[3, 9, 14, 27, 40]])
    expected = np.exp(logit - logit.max()) / np.exp(logit - logit.max()).sum()
    counts = np.array([(found.items == i).sum() for i in (3, 9, 14, 27, 40)])
    assert counts.sum() == 20_000  # everyone found one, and only allowed items
    assert chisquare(counts, 20_000 * expected).pvalue > 1e-4  # false alarm < 1e-4
    np.testing.assert_allclose(found.utility, utility_for_all_items(
        taste, catalog, choice)[0, found.items], rtol=1e-5)


def test_rejection_draws_from_the_whole_catalog_like_a_scan() -> None:
    """Many users, everything allowed but what each watched: both samplers give the same
    distribution of picked items (two-sample chi-square over the items picked most)."""
    catalog, choice = small_catalog(), ChoiceConfig()
    rng = np.random.default_rng(5)
    taste = rng.normal(size=(8, catalog.vectors.shape[1]))
    taste = np.repeat(taste / np.linalg.norm(taste, axis=1, keepdims=True), 5_000, axis=0)
    allowed = rng.random((8, catalog.n_items)) < 0.8
    allowed = np.repeat(allowed, 5_000, axis=0)
    plays = rng.integers(0, 100, catalog.n_items).astype(float)
    counts = []
    for sampler, seed in (("scan", 6), ("rejection", 7)):
        cfg = OrganicConfig(per_session=1.0, sampler=sampler)
        found = find(taste.astype(np.float32), allowed, plays, catalog, choice, cfg,
                     np.random.default_rng(seed))
        assert allowed[found.rows, found.items].all()
        counts.append(np.bincount(found.items + catalog.n_items * (found.rows // 5_000),
                                  minlength=8 * catalog.n_items))
    table = np.array(counts)
    table = table[:, table.sum(axis=0) >= 20]  # cells with enough expected counts
    assert table.shape[1] > 40
    assert chi2_contingency(table).pvalue > 1e-4  # false alarm < 1e-4


def test_unwatched_rows_and_pairs_agree_with_the_mask_they_stand_for() -> None:
    rng = np.random.default_rng(8)
    seen = BitMatrix.from_dense(rng.random((30, 50)) < 0.3)
    available = rng.random(50) < 0.9
    users = rng.integers(0, 30, 12)
    just = np.where(rng.random(12) < 0.5, rng.integers(0, 50, 12), -1)
    playable = Unwatched(available, seen, users, just)
    dense = available[None, :] & ~seen[users]
    dense[np.flatnonzero(just >= 0), just[just >= 0]] = False
    rows = np.array([0, 3, 3, 11])
    np.testing.assert_array_equal(playable.rows(rows), dense[rows])
    items = rng.integers(0, 50, (4, 7))
    np.testing.assert_array_equal(playable.pairs(rows, items), dense[rows[:, None], items])


def test_switched_off_nobody_finds_anything() -> None:
    catalog = small_catalog()
    found = find(np.zeros((50, catalog.vectors.shape[1]), np.float32),
                 np.ones((50, catalog.n_items), bool), np.zeros(catalog.n_items), catalog,
                 ChoiceConfig(), OrganicConfig(per_session=0.0), np.random.default_rng(3))
    assert found.rows.size == 0


def test_organic_plays_are_logged_apart_trained_on_and_never_reweighted(
    small_config: MakeConfig, tmp_path: Path
) -> None:
    cfg = small_config("days=4", "policy=popular", "policy.epsilon=0.2",
                       "users.organic.per_session=0.4", "users.rewatch.per_session=0")
    result = simulate(cfg, tmp_path)
    log = pd.read_parquet(tmp_path / "log")
    organic = log[log.serving_path == "organic"]
    assert len(organic) > 0
    assert organic.clicked.all() and organic.propensity.isna().all()
    assert (organic.position == 0).all() and (organic.completion > 0).all()
    assert organic.session.nunique() == len(organic)  # a session of its own each
    assert not set(organic.session) & set(log[log.serving_path != "organic"].session)
    # each (user, item) is played at most once, organically or through a slate
    plays = log[log.clicked]
    assert not plays.duplicated(["user", "item"]).any()
    metrics = result.metrics.pivot(index="day", columns="metric", values="value")
    share = len(organic) / len(plays)
    assert abs(metrics["organic_share"].mean() - share) < 0.05
    # the exploring log still supports off-policy estimates: organic rows are left out
    assert np.isfinite(metrics["ips_ctr_candidate"].iloc[-1])
    # the popular list learns from organic plays: the serving model counts them
    deployed = result.registry[result.registry.status == "deployed"].iloc[-1]
    days = deployed.train_days
    model = result.policy().base
    window_plays = log[log.clicked & log.day.isin(days)].groupby("item").size()
    assert model.counts_[window_plays.index].sum() == window_plays.sum()


def test_staged_proposals_accept_the_first_that_weighing_all_at_once_accepts() -> None:
    """``first_accepted`` weighs the rows still searching a stage at a time; its pick must
    be the first accepted of all ``REJECTION_TRIES`` proposals weighed together."""
    catalog = small_catalog()
    rng = np.random.default_rng(8)
    n, tries = 3_000, organic.REJECTION_TRIES
    taste = rng.normal(size=(n, catalog.vectors.shape[1]))
    taste /= np.linalg.norm(taste, axis=1, keepdims=True)
    allowed = organic.as_playable(rng.random((n, catalog.n_items)) < 0.5)
    reach = 2.0 * catalog.vector_norms
    cdf = np.cumsum(np.exp(reach - reach.max()))
    u = rng.random((n, 2 * tries))
    found = np.arange(n)
    got = organic.first_accepted(u, cdf, reach, taste, found, allowed, catalog, 2.0)
    proposed = np.minimum(np.searchsorted(cdf, u[:, :tries] * cdf[-1], side="right"),
                          cdf.size - 1)
    affinity = np.einsum("nd,nkd->nk", taste, catalog.vectors[proposed].astype(np.float64))
    accepted = (u[:, tries:] < np.exp(2.0 * affinity - reach[proposed])) \
        & allowed.pairs(found, proposed)
    want = np.where(accepted.any(axis=1), proposed[found, accepted.argmax(axis=1)], -1)
    np.testing.assert_array_equal(got, want)
    first = accepted.argmax(axis=1)[accepted.any(axis=1)]
    assert (first >= organic.STAGE).any() and (want == -1).any()  # later stages and misses ran
