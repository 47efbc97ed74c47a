"""Start-up checks of a world fitted to rating data: the data must be there, and the
catalog's sizes must be the data's (``sim/checks.py`` applies them to their fields)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from recloop.agents.datasets import data_folder, read_ratings
from recloop.sim.config import RunConfig


@lru_cache(maxsize=4)
def _data_counts(folder: str) -> tuple[int, int] | str:
    """(items, genres) of the rating data in ``folder``, or why they cannot be read."""
    try:
        data = read_ratings(folder)
    except (OSError, ValueError) as err:
        return str(err).splitlines()[0]
    return data.n_items, len(data.genre_names())


def calibration_data(value: Any, cfg: RunConfig) -> str | None:
    """A fitted world needs its rating data, and the catalog's sizes must be the data's."""
    if value != "movielens":
        return None
    folder = data_folder(cfg.catalog.path)
    counts = _data_counts(str(folder))
    if isinstance(counts, str):
        return (f"synthetic, or movielens once its data are there: {counts} (recloop-data "
                "fetch movielens-100k, or catalog.path=<folder>)")
    items, genres = counts
    if (cfg.catalog.n_items, cfg.catalog.n_genres) != (items, genres):
        return (f"movielens only with catalog.n_items={items} catalog.n_genres={genres} "
                f"(the counts of {folder})")
    return None


def users_from_data(value: Any, cfg: RunConfig) -> str | None:
    """Users fitted to a rating log need the catalog fitted to the same log."""
    if value == "movielens" and cfg.catalog.source != "movielens":
        return "movielens only with catalog.source=movielens (catalog=movielens)"
    return None
