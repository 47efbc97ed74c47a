"""The comparison of a simulated log with rating data: zero for a copy, known values for
known differences, and a report section for a run in a fitted world."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_calibrate import planted, write_movielens_csv

from recloop.experiments import data_match as dm
from recloop.experiments.data_match_report import banner, data_match_blocks, is_validation_run
from recloop.experiments.preflight import check_job
from recloop.sim.story import simulate


def copy_of(data) -> dm.Plays:
    """Plays that are the ratings themselves, completion the rescaled rating."""
    r = data.ratings
    rating = np.clip(np.round(r.rating.to_numpy()), 1, 5)
    return dm.Plays(r.user.to_numpy(), r.item.to_numpy(), (rating - 1.0) / 4.0)


def test_a_log_that_copies_the_data_is_at_distance_zero() -> None:
    data, _ = planted()
    data.ratings["rating"] = np.clip(np.round(data.ratings.rating), 1, 5)
    comparisons = dm.compare(copy_of(data), data)
    assert [c.name for c in comparisons] == list(dm.THRESHOLDS)
    assert all(c.distance == pytest.approx(0.0, abs=1e-12) and c.passed for c in comparisons)
    assert comparisons[0].notes["Gini, simulated"] == pytest.approx(
        comparisons[0].notes["Gini, data"])


def test_known_differences_give_known_distances() -> None:
    data, _ = planted()  # genres cycle over four names: a quarter of titles each first-listed
    first = np.array(dm.first_genres(data))
    comedy = np.flatnonzero(first == "Comedy")
    n = 4000
    plays = dm.Plays(np.arange(n) % 300, comedy[np.arange(n) % comedy.size], np.full(n, 1.0))
    genre = dm.genre_shares(plays, data)
    data_share = np.isin(data.ratings.item, comedy).mean()
    assert genre.distance == pytest.approx(1.0 - data_share)  # all plays on one genre
    rescaled = (data.ratings.rating.to_numpy() - 1) / 4
    assert dm.ratings_and_completion(plays, data).distance == pytest.approx(
        np.abs(1.0 - rescaled).mean())  # W1 to a point mass at 1 (rescaled ratings ≤ 1)
    popularity = dm.item_popularity(plays, data)
    assert popularity.notes["Gini, simulated"] > popularity.notes["Gini, data"]
    assert not dm.item_popularity(plays, data).passed
    assert "item popularity" in banner([popularity]) and banner([]) == ""


def test_a_run_in_a_fitted_world_gets_its_section(tmp_path: Path) -> None:
    data, _ = planted()
    folder = tmp_path / "ml"
    folder.mkdir()
    write_movielens_csv(folder, data)
    cfg = check_job(["catalog=movielens", f"catalog.path={folder}", "users=movielens",
                     "users.n_users=300", "progress=false", "days=3", "catalog.n_items=120",
                     "catalog.n_genres=4", "serving.k=5"])
    simulate(cfg, tmp_path / "run")
    config = {"catalog": {"source": "movielens", "path": str(folder)}}
    _, blocks = data_match_blocks(tmp_path / "run", config)
    assert [b[0] for b in blocks] == ["Against the rating data", "Against the rating data, plotted"]
    assert "max Lorenz gap" in blocks[0][2] and len(blocks[1][2].data) == 8
    assert data_match_blocks(tmp_path / "run", {"catalog": {"source": "synthetic"}}) == ("", [])
    assert "Thresholds apply" in blocks[0][1]  # no policy named: not the validation logger
    assert is_validation_run({"policy": {"name": "random", "epsilon": 0.0}, "ab": {}})
    assert not is_validation_run({"policy": {"name": "random"}, "ab": {"treatment": {"name": "als"}}})


def test_plays_count_clicks_and_organic_plays_only(tmp_path: Path) -> None:
    log = tmp_path / "log"
    log.mkdir()
    pd.DataFrame({"user": [0, 0, 1], "item": [3, 4, 5], "clicked": [True, False, True],
                  "completion": [0.5, 0.0, 1.0]}).to_parquet(log / "day=0000.parquet")
    plays = dm.read_plays(tmp_path)
    assert plays.item.tolist() == [3, 5] and plays.completion.tolist() == [0.5, 1.0]
