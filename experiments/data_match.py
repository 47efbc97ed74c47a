"""How a simulated log compares with the rating data its world was fitted to.

A calibrated world (``catalog=movielens``) claims to look like a real service; this module
checks the claim on four marginals, each with a distance and a stated threshold:

- **item popularity**: plays per title against ratings per title, as Lorenz curves; the
  distance is the largest vertical gap between the curves (a Kolmogorov–Smirnov distance
  on the cumulative share of consumption), the Ginis are shown beside it;
- **user activity**: plays per user against ratings per user, each divided by its mean
  (a month of simulation and seven months of ratings differ in scale, not in shape);
  the two-sample KS statistic;
- **genre shares**: each genre's share of plays against its share of ratings (a title's
  first listed genre, as in the world); total variation distance;
- **ratings and completion**: the share of a title watched against the rating rescaled to
  [0, 1] (``(r - 1) / 4``); the 1-Wasserstein distance. Completion stands in for a rating
  in the simulator, so the two should be distributed alike.

Only plays count: clicked impressions and organic plays, the events a rating records.
Thresholds are fixed here, before any world is tuned to them, and README states them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.dataset as ds
from scipy import stats

from recloop.agents.datasets import RatingData
from recloop.experiments.lorenz import lorenz_curve, lorenz_gini

THRESHOLDS: dict[str, float] = {
    "item popularity": 0.15,  # max gap between Lorenz curves
    "user activity": 0.25,  # KS statistic of activity / mean activity
    "genre shares": 0.15,  # total variation distance
    "ratings and completion": 0.15,  # Wasserstein-1 on [0, 1]
}


@dataclass(frozen=True)
class Comparison:
    """One marginal: its distance, threshold and the two curves a plot draws."""

    name: str
    distance_name: str
    distance: float
    threshold: float
    simulated: tuple[np.ndarray, np.ndarray]
    data: tuple[np.ndarray, np.ndarray]
    notes: dict[str, float] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return bool(self.distance <= self.threshold)


@dataclass(frozen=True)
class Plays:
    """The simulated log's plays: user, item and share watched per play."""

    user: np.ndarray
    item: np.ndarray
    completion: np.ndarray


def read_plays(run_dir: Path) -> Plays:
    """Every play of a run's log (clicked rows, organic plays included)."""
    parts = sorted((run_dir / "log").glob("day=*.parquet"))
    if not parts:
        raise FileNotFoundError(f"{run_dir / 'log'} holds no day partitions")
    table = ds.dataset([str(p) for p in parts], format="parquet").to_table(
        columns=["user", "item", "completion"], filter=ds.field("clicked"))
    return Plays(user=table.column("user").to_numpy(), item=table.column("item").to_numpy(),
                 completion=table.column("completion").to_numpy().astype(np.float64))


def compare(plays: Plays, data: RatingData) -> list[Comparison]:
    """The four comparisons, in the order the report shows them."""
    return [item_popularity(plays, data), user_activity(plays, data),
            genre_shares(plays, data), ratings_and_completion(plays, data)]


def item_popularity(plays: Plays, data: RatingData) -> Comparison:
    n = data.n_items
    sim = lorenz_curve(np.bincount(plays.item, minlength=n)[:n])
    real = lorenz_curve(np.bincount(data.ratings["item"].to_numpy(), minlength=n))
    gap = float(np.max(np.abs(sim[1] - np.interp(sim[0], *real))))
    return Comparison("item popularity", "max Lorenz gap", gap, THRESHOLDS["item popularity"],
                      sim, real, {"Gini, simulated": lorenz_gini(*sim),
                                  "Gini, data": lorenz_gini(*real)})


def user_activity(plays: Plays, data: RatingData) -> Comparison:
    sim = _relative(np.unique(plays.user, return_counts=True)[1])
    real = _relative(np.bincount(data.ratings["user"].to_numpy()))
    ks = float(stats.ks_2samp(sim, real).statistic)
    return Comparison("user activity", "KS statistic", ks, THRESHOLDS["user activity"],
                      _ecdf(sim), _ecdf(real),
                      {"CV, simulated": float(sim.std()), "CV, data": float(real.std())})


def genre_shares(plays: Plays, data: RatingData) -> Comparison:
    first = first_genres(data)
    names = np.array(sorted(set(first)))
    code = {g: i for i, g in enumerate(names)}
    item_genre = np.array([code[g] for g in first])
    sim = _shares(item_genre[plays.item], len(names))
    real = _shares(item_genre[data.ratings["item"].to_numpy()], len(names))
    tv = float(0.5 * np.abs(sim - real).sum())
    index = np.arange(len(names), dtype=np.float64)
    return Comparison("genre shares", "total variation", tv, THRESHOLDS["genre shares"],
                      (index, sim), (index, real), {"genres": float(len(names))})


def ratings_and_completion(plays: Plays, data: RatingData) -> Comparison:
    scaled = (data.ratings["rating"].to_numpy(np.float64) - 1.0) / 4.0
    w1 = float(stats.wasserstein_distance(plays.completion, scaled))
    return Comparison("ratings and completion", "Wasserstein-1", w1,
                      THRESHOLDS["ratings and completion"],
                      _ecdf(plays.completion), _ecdf(scaled),
                      {"mean completion": float(plays.completion.mean()),
                       "mean rescaled rating": float(scaled.mean())})


def first_genres(data: RatingData) -> list[str]:
    """Each title's first listed genre ("unknown" when it lists none)."""
    return [genres[0] if len(genres) else "unknown" for genres in data.items["genres"]]


def _relative(counts: np.ndarray) -> np.ndarray:
    counts = np.asarray(counts, dtype=np.float64)
    return counts / counts.mean()


def _shares(codes: np.ndarray, n: int) -> np.ndarray:
    counts = np.bincount(codes, minlength=n).astype(np.float64)
    return counts / counts.sum()


def _ecdf(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted values and their empirical CDF, thinned to at most 400 points for a plot."""
    x = np.sort(values)
    y = np.arange(1, x.size + 1) / x.size
    keep = np.unique(np.linspace(0, x.size - 1, min(x.size, 400)).astype(int))
    return x[keep], y[keep]


def summary_table(comparisons: list[Comparison]) -> pd.DataFrame:
    """One row per comparison: distance, threshold, verdict."""
    return pd.DataFrame([{"comparison": c.name, "distance": c.distance_name,
                          "value": c.distance, "threshold": c.threshold,
                          "within": "yes" if c.passed else "NO"} for c in comparisons])
