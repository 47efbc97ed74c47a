"""Per-user churn features and labels, point in time, read from sealed log partitions only.

The churn-risk model (``sim/churn_model.py``) sees what a product team's data warehouse
would: the impression log. Each sealed day is summarised once per user (slates, impressions,
clicks, plays, completed plays, watch time, the plays themselves); features *as of* date
``d`` add up the ``lookback`` days strictly before ``d`` and never read day ``d`` or later,
so a model trained on date ``d`` could have been trained at the midnight before it. The
label of date ``d`` is whether the user is active again on any of days ``d .. d+N-1``.

Features, per user of the base (users with any logged activity in the lookback):

====================  ==========================================================
slates, impressions   log(1 + count) over the lookback
clicks, plays         log(1 + count); plays are clicks plus plays found outside
completion            completed plays / plays (0 without plays)
watch                 log(1 + titles' worth watched)
ctr                   clicks / impressions (0 without impressions)
active days           days with any activity / lookback
recency               (d − last active day) / lookback
tenure                log(1 + d − first logged day)
popular share         plays on the window's most-played titles / plays
genre concentration   Herfindahl index of the user's plays over genres (public metadata)
====================  ==========================================================
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recloop.sim.eventlog import LOG_PATHS, ORGANIC, EventLog

DAY_COLUMNS = ["user", "position", "item", "clicked", "completion", "serving_path"]
COUNTS = ("slates", "impressions", "clicks", "plays", "completed", "watched")
FEATURES = ("slates", "impressions", "clicks", "plays", "completion", "watch", "ctr",
            "active_days", "recency", "tenure", "popular_share", "genre_concentration")


@dataclass(frozen=True)
class DayActivity:
    """One sealed day, per user: the counts of ``COUNTS`` and the plays themselves."""

    counts: np.ndarray  # float[n_users, len(COUNTS)]
    active: np.ndarray  # bool[n_users]: any logged row that day
    play_users: np.ndarray  # int[p]
    play_items: np.ndarray  # int[p]


def day_activity(log: EventLog, day: int, n_users: int, complete_at: float) -> DayActivity:
    """Summarise one sealed partition per user."""
    frame = log.read([day], DAY_COLUMNS)
    user = frame["user"].to_numpy().astype(np.int64)
    organic = (frame["serving_path"].astype(str) == LOG_PATHS[ORGANIC]).to_numpy()
    clicked = frame["clicked"].to_numpy(dtype=bool)
    completion = frame["completion"].to_numpy(dtype=np.float64)
    served = ~organic
    play = clicked | organic
    columns = {
        "slates": served & (frame["position"].to_numpy() == 0),
        "impressions": served,
        "clicks": served & clicked,
        "plays": play,
        "completed": play & (completion >= complete_at),
        "watched": np.where(play, completion, 0.0),
    }
    counts = np.stack([np.bincount(user, weights=columns[c].astype(np.float64),
                                   minlength=n_users) for c in COUNTS], axis=1)
    active = np.bincount(user, minlength=n_users) > 0
    return DayActivity(counts, active, user[play], frame["item"].to_numpy()[play])


class ActivityReader:
    """Features and labels from the log, each sealed day read once and kept while needed."""

    def __init__(self, log: EventLog, genre: np.ndarray, n_users: int, complete_at: float,
                 popular_share: float) -> None:
        """``genre``: the catalog's public genre per item (what policies see too)."""
        self.log, self.genre, self.n_users = log, genre, n_users
        self.complete_at, self.popular_share = complete_at, popular_share
        self._days: dict[int, DayActivity] = {}
        self._first_seen = np.full(n_users, np.iinfo(np.int32).max, dtype=np.int64)

    def day(self, day: int) -> DayActivity:
        """One sealed day's summary (read on first use)."""
        if day not in self._days:
            act = day_activity(self.log, day, self.n_users, self.complete_at)
            self._days[day] = act
            self._first_seen[act.active] = np.minimum(self._first_seen[act.active], day)
        return self._days[day]

    def forget_before(self, day: int) -> None:
        """Drop summaries of days no later feature or label will read."""
        for old in [d for d in self._days if d < day]:
            del self._days[old]

    def features(self, date: int, lookback: int) -> tuple[np.ndarray, np.ndarray]:
        """(base users, float[n, len(FEATURES)]) as of the start of ``date``: days < date."""
        days = list(range(max(0, date - lookback), date))
        acts = [self.day(d) for d in days]  # every day < date: first_seen is point in time
        if not acts:
            return np.zeros(0, dtype=np.int64), np.zeros((0, len(FEATURES)))
        active = np.stack([a.active for a in acts], axis=1)  # users × days
        users = np.flatnonzero(active.any(axis=1))
        total = sum(a.counts for a in acts)[users]
        since_last = 1 + np.argmax(active[users][:, ::-1], axis=1)  # days are consecutive
        popular, hhi = self._play_mix(acts, users)
        c = dict(zip(COUNTS, total.T, strict=True))
        x = np.column_stack([
            np.log1p(c["slates"]), np.log1p(c["impressions"]), np.log1p(c["clicks"]),
            np.log1p(c["plays"]), _share(c["completed"], c["plays"]), np.log1p(c["watched"]),
            _share(c["clicks"], c["impressions"]), active[users].sum(axis=1) / lookback,
            since_last / lookback, np.log1p(date - self._first_seen[users]), popular, hhi,
        ])
        return users, x

    def _play_mix(self, acts: list[DayActivity], users: np.ndarray) -> tuple[np.ndarray,
                                                                                np.ndarray]:
        """Per base user: share of plays on the window's most-played titles, and the
        Herfindahl index of their plays over genres (both 0 without plays)."""
        who = np.concatenate([a.play_users for a in acts])
        what = np.concatenate([a.play_items for a in acts])
        n_items, n_genres = self.genre.size, int(self.genre.max()) + 1
        plays = np.bincount(what, minlength=n_items)
        top = max(1, int(np.ceil(self.popular_share * n_items)))
        popular = np.zeros(n_items, dtype=bool)
        popular[np.argsort(-plays, kind="stable")[:top]] = True
        per_user = np.bincount(who, minlength=self.n_users).astype(np.float64)
        on_popular = np.bincount(who, weights=popular[what], minlength=self.n_users)
        cells = np.bincount(who * n_genres + self.genre[what],
                            minlength=self.n_users * n_genres).reshape(self.n_users, n_genres)
        shares = cells[users] / np.maximum(per_user[users], 1)[:, None]
        return _share(on_popular[users], per_user[users]), (shares**2).sum(axis=1)

    def tenure(self, users: np.ndarray, date: int) -> np.ndarray:
        """Days from each user's first logged activity to ``date`` (days read so far only)."""
        return date - self._first_seen[users]

    def churned(self, users: np.ndarray, date: int, horizon: int) -> np.ndarray:
        """bool per user: no logged activity on any of days ``date .. date+horizon-1``."""
        seen = np.zeros(self.n_users, dtype=bool)
        for d in range(date, date + horizon):
            seen |= self.day(d).active
        return ~seen[users]


def _share(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    return np.divide(num, den, out=np.zeros(len(num)), where=den > 0)
