"""A second learner in the loop: a churn-risk model retrained nightly on the recommender's log.

It reads the impression log only (``sim/churn_features.py``), never the users' hidden
state, so whatever the recommender did to the log it does to this model's training data
too: that is the indirect feedback loop the dashboard (``sim/churn_dashboard.py``) puts
beside the truth.

Each midnight after day ``D`` is sealed, labelled feature dates are those whose label
period ``d .. d+N-1`` is sealed (``d <= D-N+1``). The most recent one is held out; the
model is fitted on the ``train_dates`` dates before it and judged on it (AUC, Brier score,
calibration in the large = mean predicted − observed churn), then scores the base as of
``D+1``. The judged model is the one that scores: no refit on the held-out date, so the
registry's metrics describe exactly what the dashboard shows. The held-out labels overlap
the last training labels in time (consecutive dates); that is how such a model is
validated on its most recent cohort in practice.

Why scikit-learn's ``LogisticRegression``: a well-kept, deterministic (lbfgs, no random
state), calibrated-by-construction baseline whose risks are probabilities, which Brier
score and calibration need; the dependency is already there for the two-stage ranker.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss, roc_auc_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from recloop.conf.ranges import UNIT, Between, one_of, ranged
from recloop.sim.alarms import MonitorConfig
from recloop.sim.atomic import atomic_path
from recloop.sim.churn_features import ActivityReader
from recloop.sim.eventlog import EventLog

NAN = float("nan")


@dataclass
class ChurnModelConfig:
    """The churn-risk model and its monitors; all off by default (nothing computed).

    ``holdout_share > 0`` serves that share of users random slates (``sim/holdout.py``); it
    needs no A/B test in the run, a rule ``sim/cross_checks.py`` holds, as it holds that a fit
    must fit inside the run (``days > label_days + min_train_dates``).
    """

    enabled: bool = False
    label_days: int = ranged(7, Between(1, 60, integer=True))  # N: active again within N days
    lookback_days: int = ranged(14, Between(1, 365, integer=True))  # features read this far
    train_dates: int = ranged(7, Between(1, 365, integer=True))  # labelled dates per fit
    min_train_dates: int = ranged(3, Between(1, 365, integer=True))  # before the first fit
    popular_share: float = ranged(0.1, Between(0.001, 1.0))  # "popular": top share of titles
    regularisation: float = ranged(1.0, Between(0.0, 1e6, strict=True))  # inverse strength, C
    holdout_share: float = ranged(0.0, Between(0.0, 0.5))  # users served random slates
    holdout_salt: str = "holdout"  # part of the holdout's assignment hash
    alarm_days: int = ranged(3, Between(1, 365, integer=True))  # consecutive days to alarm
    alarm_z: float = ranged(1.96, Between(0.0, 10.0, strict=True))  # the interval's half-width in SE
    monitors: MonitorConfig = field(default_factory=MonitorConfig)  # calibration, concentration
    # the loop closed: flagged users (predicted risk > at_risk) get a popular title's slot
    decision: str = ranged("none", one_of("none", "retention_slot"))
    at_risk: float = ranged(0.3, UNIT)


@dataclass
class ChurnRecord:
    """One nightly fit: what it read and how it did on its held-out date."""

    version: int
    night: int  # the day whose midnight it was fitted at
    train_dates: list[int]
    eval_date: int
    data_version: str  # hash of the partitions read (``EventLog.data_version``)
    rows: int  # labelled (user, date) rows trained on
    auc: float = NAN
    brier: float = NAN
    calibration: float = NAN  # mean predicted − observed churn on the held-out date
    status: str = "deployed"  # or "one_class": nothing to learn, the last model stays


@dataclass
class ChurnLearner:
    """Fits, judges and keeps the serving churn model; reads the log through ``reader``."""

    cfg: ChurnModelConfig
    reader: ActivityReader
    log: EventLog
    records: list[ChurnRecord] = field(default_factory=list)
    model_: Pipeline | None = None

    def is_trained(self) -> bool:
        return self.model_ is not None

    def night(self, day: int) -> ChurnRecord | None:
        """After day ``day`` is sealed: fit and judge when enough dates are labelled."""
        self.reader.day(day)  # every day is summarised in order, so tenure is point in time
        cfg = self.cfg
        eval_date = day - cfg.label_days + 1
        dates = list(range(max(1, eval_date - cfg.train_dates), eval_date))
        if len(dates) < cfg.min_train_dates:
            return None
        self.reader.forget_before(dates[0] - cfg.lookback_days)
        x, y = self._labelled(dates)
        read = list(range(max(0, dates[0] - cfg.lookback_days), day + 1))
        rec = ChurnRecord(len(self.records) + 1, day, dates, eval_date,
                          self.log.data_version(read), int(y.size))
        self.records.append(rec)
        if np.unique(y).size < 2:
            rec.status = "one_class"
            return rec
        model = make_pipeline(StandardScaler(), LogisticRegression(C=cfg.regularisation))
        self.model_ = model.fit(x, y)
        x_eval, y_eval = self._labelled([eval_date])
        rec.auc, rec.brier, rec.calibration = judge(y_eval, self.risk(x_eval))
        return rec

    def _labelled(self, dates: list[int]) -> tuple[np.ndarray, np.ndarray]:
        """Stacked features and churn labels of each date's base users."""
        xs, ys = [], []
        for date in dates:
            users, x = self.reader.features(date, self.cfg.lookback_days)
            xs.append(x)
            ys.append(self.reader.churned(users, date, self.cfg.label_days))
        return np.concatenate(xs), np.concatenate(ys)

    def risk(self, x: np.ndarray) -> np.ndarray:
        """Predicted probability of churn (no activity in the next N days) per row."""
        assert self.model_ is not None
        if x.shape[0] == 0:
            return np.zeros(0)
        churn_column = list(self.model_.classes_).index(True)
        return self.model_.predict_proba(x)[:, churn_column]

    def score(self, date: int) -> tuple[np.ndarray, np.ndarray]:
        """(base users as of ``date``, their predicted risk); nothing before the first fit."""
        if self.model_ is None:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        users, x = self.reader.features(date, self.cfg.lookback_days)
        return users, self.risk(x)


def write_registry(records: list[ChurnRecord], path: Path) -> None:
    """Every fit so far as one Parquet table, replaced atomically: version, night, the
    dates and data version it read, its held-out metrics, its status."""
    frame = pd.DataFrame([asdict(rec) for rec in records])
    with atomic_path(path) as tmp:
        frame.to_parquet(tmp, index=False)


def judge(churned: np.ndarray, risk: np.ndarray) -> tuple[float, float, float]:
    """AUC, Brier score and calibration in the large; AUC is NaN with one class only."""
    if churned.size == 0:
        return NAN, NAN, NAN
    churned = churned.astype(np.int64)
    auc = float(roc_auc_score(churned, risk)) if np.unique(churned).size == 2 else NAN
    brier = float(brier_score_loss(churned, risk))
    return auc, brier, float(risk.mean() - churned.mean())

