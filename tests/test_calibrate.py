"""A world fitted to ratings: the factorisation recovers a planted model, and the catalog
and population it builds keep what the data say (release order, activity, segments)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import SMALL

from recloop.agents.calibrate import calibrated_catalog, calibrated_population, fit_ratings
from recloop.agents.catalog import CatalogConfig
from recloop.agents.datasets import RatingData, dataset_dir, read_ratings
from recloop.agents.population import NICHE, PopulationConfig
from recloop.experiments.preflight import check_job
from recloop.sim.config import ConfigError
from recloop.sim.story import simulate

GENRES = ("Comedy", "Drama", "Horror", "Sci-Fi")


def planted(n_users: int = 300, n_items: int = 120, dim: int = 4, density: float = 0.3,
            noise: float = 0.1, seed: int = 0) -> tuple[RatingData, dict[str, np.ndarray]]:
    """Ratings from a known biased low-rank model, with item 'first rated' times in id order."""
    rng = np.random.default_rng(seed)
    p, q = rng.normal(0, 0.5, (n_users, dim)), rng.normal(0, 0.5, (n_items, dim))
    bu, bi = rng.normal(0, 0.3, n_users), rng.normal(0, 0.5, n_items)
    mask = rng.random((n_users, n_items)) < density
    users, items = np.nonzero(mask)
    rating = 3.5 + bu[users] + bi[items] + np.einsum("nd,nd->n", p[users], q[items])
    rating += rng.normal(0, noise, rating.size)
    ratings = pd.DataFrame({"user": users.astype(np.int32), "item": items.astype(np.int32),
                            "rating": rating.astype(np.float32),
                            "timestamp": (10**9 + items * 1000 + users).astype(np.int64)})
    table = pd.DataFrame({"item": np.arange(n_items, dtype=np.int32), "original_id": np.arange(n_items),
                          "title": [f"t{i}" for i in range(n_items)],
                          "genres": [(GENRES[i % 4], GENRES[(i + 1) % 4]) for i in range(n_items)],
                          "year": 1990})
    truth = {"p": p, "q": q, "bu": bu, "bi": bi}
    return RatingData(ratings, table, pd.Index(np.arange(n_users)), "planted"), truth


def test_the_factorisation_recovers_a_planted_model() -> None:
    """Held-out RMSE within 1.5× the noise SD, item biases correlated > 0.95 with the truth."""
    data, truth = planted()
    rng = np.random.default_rng(1)
    held = rng.random(len(data.ratings)) < 0.1
    train = RatingData(data.ratings[~held], data.items, data.users, "planted")
    fit = fit_ratings(train, 4, rng, reg=1.0)
    test = data.ratings[held]
    error = fit.predict(test.user.to_numpy(), test.item.to_numpy()) - test.rating.to_numpy()
    assert np.sqrt(np.mean(error**2)) < 1.5 * 0.1 * np.sqrt(1 + 4)  # noise + shrinkage slack
    assert np.corrcoef(fit.item_bias, truth["bi"])[0, 1] > 0.95


def test_the_catalog_keeps_release_order_genres_and_standard_quality() -> None:
    data, _ = planted()
    fit = fit_ratings(data, 4, np.random.default_rng(2))
    cfg = CatalogConfig(n_items=120, n_genres=4, initial_fraction=0.75, release_days=10,
                        clickbait_fraction=0.0)
    cat = calibrated_catalog(data, fit, cfg, np.random.default_rng(3))
    assert (cat.release_day[:90] == 0).all()  # first rated earliest: there from day 0
    assert np.all(np.diff(cat.release_day[90:]) >= 0) and cat.release_day[90:].min() == 1
    assert cat.release_day.max() == 10
    assert list(cat.genre[:4]) == [0, 1, 2, 3]  # the first listed genre, in sorted names
    assert abs(cat.quality.mean()) < 1e-5 and abs(cat.quality.std() - 1.0) < 1e-4
    assert np.allclose(np.linalg.norm(cat.vectors, axis=1), 1.0, atol=1e-5)


def test_the_population_repeats_the_data_users_and_keeps_their_activity() -> None:
    data, _ = planted()
    fit = fit_ratings(data, 4, np.random.default_rng(4))
    cfg = PopulationConfig(n_users=750, sessions_per_day=2.0, niche_fraction=0.2, taste_noise=0.3)
    pop = calibrated_population(data, fit, cfg, 750, np.random.default_rng(5))
    assert pop.taste.shape == (750, 4)
    directions = fit.user_factors / np.linalg.norm(fit.user_factors, axis=1, keepdims=True)
    # the first 300 are the data's users, each once, unjittered
    match = np.abs(pop.taste[:300] @ directions.T).max(axis=1)
    assert np.allclose(match, 1.0, atol=1e-5)
    assert np.abs(pop.taste[300:] @ directions.T).max(axis=1).mean() < 0.999  # copies moved
    counts = np.bincount(data.ratings.user, minlength=300)  # activity ∝ ratings given
    assert np.allclose(np.sort(pop.activity[:300]), np.sort(2.0 * counts / counts.mean()))
    assert abs((pop.segment[:300] == NICHE).mean() - 0.2) < 0.01


def write_movielens_csv(root: Path, data: RatingData) -> None:
    """The planted data in the ml-latest format."""
    data.ratings.rename(columns={"user": "userId", "item": "movieId"}).to_csv(
        root / "ratings.csv", index=False)
    pd.DataFrame({"movieId": data.items.item, "title": [f"{t} (1990)" for t in data.items.title],
                  "genres": ["|".join(g) for g in data.items.genres]}).to_csv(
        root / "movies.csv", index=False)


def test_a_run_on_a_fitted_world_end_to_end(tmp_path: Path) -> None:
    data, _ = planted()
    folder = tmp_path / "ml"
    folder.mkdir()
    write_movielens_csv(folder, data)
    world = ["catalog=movielens", f"catalog.path={folder}", "users=movielens", "users.n_users=500",
             "progress=false", "days=3"]
    with pytest.raises(ConfigError, match="catalog.n_items=120 catalog.n_genres=4"):
        check_job(world)
    cfg = check_job([*world, "catalog.n_items=120", "catalog.n_genres=4", "serving.k=5"])
    result = simulate(cfg, tmp_path / "run")
    assert result.impressions > 0 and result.world.catalog.n_items == 120
    assert result.world.population.n_users == 500 + 3 * cfg.users.visits.signups_per_day


@pytest.mark.skipif(not (dataset_dir("movielens-100k") / "SOURCE.json").is_file(),
                    reason="MovieLens-100K is not cached here (recloop-data fetch movielens-100k)")
def test_the_movielens_100k_world_builds(tmp_path: Path) -> None:
    cfg = check_job([*SMALL, "catalog=movielens", "users=movielens", "days=2"])
    result = simulate(cfg, tmp_path)
    assert result.world.catalog.n_items == 1682 and result.impressions > 0
    assert read_ratings(dataset_dir("movielens-100k")).n_users == 943
