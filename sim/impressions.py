"""Served slates as log rows: one row per shown item, the same for every arm.

A serving arm logs what users saw and how they answered; a shadow logs what it would have
shown, with no clicks. Both go through ``log_served`` so the two logs share one schema.
Plays found outside the recommender are one row each (``log_organic``): position 0, path
``organic``, no propensity, clicked.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recloop.agents.organic import OrganicPlays
from recloop.sim.eventlog import ORGANIC, EventLog
from recloop.sim.serving import Served


@dataclass(frozen=True)
class Source:
    """Who served: the constant columns of the rows."""

    arm: str
    policy: str
    model_version: int


def log_served(log: EventLog, source: Source, day: int, users: np.ndarray, times: np.ndarray,
               sessions: np.ndarray, served: Served, click_position: np.ndarray,
               completion: np.ndarray) -> None:
    """Append one row per filled slot; ``click_position`` is -1 for sessions without one."""
    items = served.slates.items
    row, pos = np.nonzero(items >= 0)
    clicked = click_position[row] == pos
    prop = served.slates.propensity
    log.append(
        {"arm": source.arm, "policy": source.policy},
        day=np.full(row.size, day),
        time=times[row],
        user=users[row],
        session=sessions[row],
        position=pos,
        item=items[row, pos],
        model_version=np.full(row.size, source.model_version),
        serving_path=served.path[row],
        propensity=np.full(row.size, np.nan, np.float32) if prop is None else prop[row, pos],
        clicked=clicked,
        completion=np.where(clicked, completion[row], 0.0),
    )


def log_organic(log: EventLog, arm: str, day: int, users: np.ndarray, times: np.ndarray,
                sessions: np.ndarray, plays: OrganicPlays) -> None:
    """One row per organic play of ``users`` (the batch's players, rows aligned)."""
    n = plays.items.size
    log.append(
        {"arm": arm, "policy": "organic"},
        day=np.full(n, day), time=times, user=users, session=sessions,
        position=np.zeros(n, dtype=np.int16), item=plays.items,
        model_version=np.zeros(n, dtype=np.int32),
        serving_path=np.full(n, ORGANIC, dtype=np.int8),
        propensity=np.full(n, np.nan, np.float32), clicked=np.ones(n, dtype=bool),
        completion=plays.completion,
    )
