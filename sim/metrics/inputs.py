"""What each kind of row in the metrics table is computed from, as plain data.

An arm hands over its tally, its night's record and a few facts about the world; an A/B
test its arms' per-user sums; a shadow its agreement counts. Nothing here reads an arm, a
pipeline or the engine, so every metric can be checked on numbers alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from recloop.sim.metrics.agreement import Agreement
from recloop.sim.metrics.daily import DayTally, UserSums


class NightRecord(Protocol):
    """What metrics read of a night's model record (the pipeline's ``ModelRecord``)."""

    status: str  # deployed | rejected | validation_failed | job_failed | rolled_back
    gate_passed: bool | None
    offline: Mapping[str, float]
    production_offline: Mapping[str, float]
    offpolicy: Mapping[str, float]


@dataclass(frozen=True)
class Fidelity:
    """The deployed model against ground truth on the night's sample (``sim/fidelity.py``)."""

    agreement: np.ndarray  # per sampled user: Spearman rho, model order vs own utility
    served: float  # Σ examination-weighted true utility of the model's slates
    random: float  # the same for uniformly random slates of allowed items
    oracle: float  # the same for the true top-k


@dataclass(frozen=True)
class ArmDay:
    """One serving arm's closed day."""

    day: int
    tally: DayTally
    available: np.ndarray  # bool[n_items]: released by this day
    item_value: np.ndarray  # float[n_items]: true utility averaged over users
    never_shown: np.ndarray  # bool[n_items]: never shown to this arm so far, today included
    release_day: np.ndarray  # int[n_items]
    members: int  # users assigned to the arm
    outage_hours: float  # model-server outage hours during the day
    night: NightRecord  # what the night before decided
    production: int | None  # the model version serving
    epsilon: float | None = None  # the controller's exploration rate, when adaptive
    fidelity: Fidelity | None = None  # the deployed model against ground truth

    @property
    def counts(self) -> np.ndarray:
        """Impressions per released item (exposure metrics ignore unreleased ones)."""
        return self.tally.impressions[self.available]


@dataclass(frozen=True)
class ShadowDay:
    """A shadow's closed day: its agreement with production and its night."""

    agreement: Agreement
    night: NightRecord
    production: int | None


@dataclass(frozen=True)
class ABDay:
    """An A/B test's day: each arm's per-user sums and users exposed so far."""

    control: UserSums
    treatment: UserSums
    exposed: tuple[float, float]  # users with a session so far: control, treatment
    share: float  # treatment's configured share of users
