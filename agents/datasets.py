"""Rating logs a world can be calibrated from, read from the formats MovieLens ships in.

Every reader returns the same ``RatingData``: ratings with users and items renumbered
0..n-1 (the original ids kept beside them), and an item table with each title's genres and
release year. Formats:

* ``ml-100k``: ``u.data`` (tab separated: user, item, rating, timestamp), ``u.item`` (pipe
  separated, Latin-1: id, title, release date, video date, URL, 19 genre flags).
* ``ml-1m``: ``ratings.dat`` and ``movies.dat`` (``::`` separated, genres ``a|b``).
* ``ml-latest`` / ``ml-20m``: ``ratings.csv`` and ``movies.csv`` (genres ``a|b``, the year
  in the title's parentheses).
* RecBole atomic files: ``<name>.inter`` and ``<name>.item``, tab separated, each header
  ``field:type`` (``class`` holds the genres, space separated).

``read_ratings(path)`` recognises the format by the files in the directory.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

ML100K_GENRES = (
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
    "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance",
    "Sci-Fi", "Thriller", "War", "Western",
)
YEAR = re.compile(r"\((\d{4})\)\s*$")


def cache_root() -> Path:
    """Where fetched data live: ``$RECLOOP_DATA``, else the user's cache directory."""
    if os.environ.get("RECLOOP_DATA"):
        return Path(os.environ["RECLOOP_DATA"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "recloop"


def dataset_dir(name: str) -> Path:
    """The cache folder of a fetched data set (``recloop-data fetch <name>``)."""
    return cache_root() / name


def data_folder(path: str) -> Path:
    """``catalog.path``, or the fetched MovieLens-100K when it is empty."""
    return Path(path).expanduser() if path else dataset_dir("movielens-100k")


@dataclass(frozen=True)
class RatingData:
    """A rating log and its items, ids renumbered from 0."""

    ratings: pd.DataFrame  # user, item (0-based), rating, timestamp (Unix seconds)
    items: pd.DataFrame  # item (0-based), original id, title, genres (tuple), year (or NA)
    users: pd.Index  # original user ids, in the order of the 0-based ids
    source: str  # the format read

    @property
    def n_users(self) -> int:
        return len(self.users)

    @property
    def n_items(self) -> int:
        return len(self.items)

    def genre_names(self) -> list[str]:
        """Every genre that occurs, sorted."""
        return sorted({g for genres in self.items["genres"] for g in genres})


def read_ratings(path: str | Path) -> RatingData:
    """The rating data in directory ``path``, in whichever supported format it holds."""
    root = Path(path)
    if not root.is_dir():
        raise FileNotFoundError(f"{root} is not a directory holding MovieLens files")
    for marker, reader in FORMATS:
        if list(root.glob(marker)):
            return reader(root)
    known = ", ".join(marker for marker, _ in FORMATS)
    raise FileNotFoundError(f"{root} holds none of the known rating files ({known})")


def read_ml100k(root: Path) -> RatingData:
    ratings = pd.read_csv(root / "u.data", sep="\t", header=None,
                          names=["user", "item", "rating", "timestamp"])
    table = pd.read_csv(root / "u.item", sep="|", header=None, encoding="latin-1")
    flags = table.iloc[:, 5:5 + len(ML100K_GENRES)].to_numpy(dtype=bool)
    items = pd.DataFrame({
        "item": table[0], "title": table[1],
        "genres": [tuple(g for g, on in zip(ML100K_GENRES, row, strict=True) if on)
                   for row in flags],
        "year": pd.to_datetime(table[2], format="%d-%b-%Y", errors="coerce").dt.year,
    })
    return _renumber(ratings, items, "ml-100k")


def read_ml1m(root: Path) -> RatingData:
    ratings = pd.read_csv(root / "ratings.dat", sep="::", engine="python", header=None,
                          names=["user", "item", "rating", "timestamp"])
    movies = pd.read_csv(root / "movies.dat", sep="::", engine="python", header=None,
                         names=["item", "title", "genres"], encoding="latin-1")
    return _renumber(ratings, _titled(movies, "|"), "ml-1m")


def read_ml_csv(root: Path) -> RatingData:
    ratings = pd.read_csv(root / "ratings.csv").rename(
        columns={"userId": "user", "movieId": "item"})
    movies = pd.read_csv(root / "movies.csv").rename(columns={"movieId": "item"})
    return _renumber(ratings[["user", "item", "rating", "timestamp"]], _titled(movies, "|"),
                     "ml-csv")


def read_recbole(root: Path) -> RatingData:
    inter = _atomic(next(root.glob("*.inter")))
    ratings = inter.rename(columns={"user_id": "user", "item_id": "item"})
    table = _atomic(next(root.glob("*.item")))
    items = pd.DataFrame({
        "item": table["item_id"],
        "title": table.get("movie_title", pd.Series([""] * len(table))),
        "genres": [tuple(str(g).split()) if isinstance(g, str) else ()
                   for g in table.get("class", pd.Series([None] * len(table)))],
        "year": pd.to_numeric(table.get("release_year"), errors="coerce"),
    })
    return _renumber(ratings[["user", "item", "rating", "timestamp"]], items, "recbole")


def _atomic(path: Path) -> pd.DataFrame:
    """A RecBole atomic file: tab separated, header ``name:type``; names without types."""
    frame = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False, na_values=[""])
    frame.columns = [c.split(":")[0] for c in frame.columns]
    for name in ("user_id", "item_id"):  # numeric ids stay numbers, tokens stay strings
        numbers = pd.to_numeric(frame[name], errors="coerce") if name in frame else None
        if numbers is not None and numbers.notna().all():
            frame[name] = numbers
    for name in ("rating", "timestamp"):
        if name in frame:
            frame[name] = pd.to_numeric(frame[name])
    return frame


def _titled(movies: pd.DataFrame, sep: str) -> pd.DataFrame:
    """Items whose genres are ``sep``-joined and whose year ends the title."""
    years = movies["title"].str.extract(YEAR, expand=False)
    return pd.DataFrame({
        "item": movies["item"], "title": movies["title"],
        "genres": [tuple(g for g in str(s).split(sep) if g and g != "(no genres listed)")
                   for s in movies["genres"]],
        "year": pd.to_numeric(years, errors="coerce"),
    })


def _renumber(ratings: pd.DataFrame, items: pd.DataFrame, source: str) -> RatingData:
    """Ids 0..n-1: users in order of first appearance by id, items as the item table lists
    them (rated items missing from the table are an error, not a silent drop)."""
    unknown = ~ratings["item"].isin(items["item"])
    if unknown.any():
        raise ValueError(f"{int(unknown.sum())} ratings name items missing from the item table")
    users = pd.Index(np.sort(ratings["user"].unique()))
    item_ids = pd.Index(items["item"])
    out = pd.DataFrame({
        "user": users.get_indexer(ratings["user"]).astype(np.int32),
        "item": item_ids.get_indexer(ratings["item"]).astype(np.int32),
        "rating": ratings["rating"].astype(np.float32).to_numpy(),
        "timestamp": ratings["timestamp"].astype(np.int64).to_numpy(),
    })
    table = items.rename(columns={"item": "original_id"}).reset_index(drop=True)
    table.insert(0, "item", np.arange(len(table), dtype=np.int32))
    return RatingData(out, table, users, source)


FORMATS: tuple[tuple[str, Callable[[Path], RatingData]], ...] = (
    ("u.data", read_ml100k),
    ("ratings.dat", read_ml1m),
    ("ratings.csv", read_ml_csv),
    ("*.inter", read_recbole),
)
