"""The users' side of a session as pure transitions: respond to a slate, then move on.

The engine hands each arriving user a slate and takes back the responses and the users'
new state rows; it never reaches into the population's arrays. Both steps are pure: they
read their inputs and a random stream, return new values and mutate nothing, so a test
can replay them, and a new behaviour is one more transition with its own state fields.

* ``respond``: examine, click at most once, watch (``agents/choice.py``); items the user
  passed on before attract less (``agents/fatigue.py``, off by default).
* ``find_organic``: some sessions also bring a play found outside the recommender
  (``agents/organic.py``, off by default).
* ``continue_visit``: after a slate the user may ask for another (``agents/continuation.py``,
  off by default).
* ``next_state``: satisfaction moves toward how the session went (completion if clicked,
  else ``idle_value``); the user then churns with probability
  ``min(1, churn_base * exp(churn_sensitivity * (1 - satisfaction)))``; passed-over items
  are remembered.

Each behaviour is a switch in ``UsersConfig`` with its own config and a documented default.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from agents import choice
from agents.catalog import Catalog
from agents.choice import ChoiceConfig, Responses, examination
from agents.continuation import ContinuationConfig, NextRequests, next_requests
from agents.fatigue import FatigueConfig, FatigueMemory, attraction_scale, remember
from agents.organic import OrganicConfig, OrganicPlays, find
from agents.population import Population, PopulationConfig


@dataclass
class UsersConfig(PopulationConfig):
    """The population, how its members choose, and each switchable behaviour."""

    choice: ChoiceConfig = field(default_factory=ChoiceConfig)
    fatigue: FatigueConfig = field(default_factory=FatigueConfig)
    organic: OrganicConfig = field(default_factory=OrganicConfig)
    continuation: ContinuationConfig = field(default_factory=ContinuationConfig)


@dataclass
class UserState:
    """What changes about users during a run, one row per user (traits live in Population)."""

    satisfaction: np.ndarray  # float64[n] in [0, 1]
    churned: np.ndarray  # bool[n]
    fatigue: FatigueMemory  # items passed on, per user (no columns when fatigue is off)

    @classmethod
    def initial(cls, n_users: int, cfg: UsersConfig) -> UserState:
        return cls(np.full(n_users, cfg.satisfaction_init), np.zeros(n_users, dtype=bool),
                   FatigueMemory.empty(n_users, cfg.fatigue))

    def rows(self, users: np.ndarray) -> UserState:
        """A copy of some users' rows."""
        return UserState(self.satisfaction[users], self.churned[users],
                         self.fatigue.rows(users))

    def put(self, users: np.ndarray, rows: UserState) -> None:
        """Write new rows back (the owner of the state does this, never a transition)."""
        self.satisfaction[users] = rows.satisfaction
        self.churned[users] = rows.churned
        self.fatigue.put(users, rows.fatigue)

    def active_ids(self) -> np.ndarray:
        """Users who have not churned."""
        return np.flatnonzero(~self.churned)


@dataclass(frozen=True)
class Users:
    """The hidden population and the models that drive it: what ``respond`` reads."""

    population: Population
    catalog: Catalog
    choice: ChoiceConfig
    cfg: UsersConfig

    def segments(self, users: np.ndarray) -> np.ndarray:
        """Hidden segment of each user, for the simulator's own tallies (never logged)."""
        return self.population.segment[users]


def respond(users: Users, state: UserState, ids: np.ndarray, items: np.ndarray,
            times: np.ndarray, rng: np.random.Generator) -> Responses:
    """Each user's reaction to their slate (row of ``items``) at ``times`` (run hours);
    ``state`` holds their rows."""
    fatigue = users.cfg.fatigue
    scale = attraction_scale(state.fatigue, items, times, fatigue) if fatigue.enabled else None
    return choice.respond(users.population.taste[ids], items, users.catalog, users.choice, rng,
                          attraction_scale=scale)


def find_organic(users: Users, ids: np.ndarray, allowed: np.ndarray, plays: np.ndarray,
                 rng: np.random.Generator) -> OrganicPlays:
    """Plays the sessions of ``ids`` bring from outside the recommender (``agents/organic.py``);
    ``allowed`` marks what each may still play, ``plays`` the service's plays per item."""
    return find(users.population.taste[ids], allowed, plays, users.catalog, users.choice,
                users.cfg.organic, rng)


def continue_visit(users: Users, responses: Responses, times: np.ndarray,
                   visit_start: np.ndarray, rng: np.random.Generator) -> NextRequests:
    """Who asks for another slate after this one, and when (``agents/continuation.py``)."""
    return next_requests(responses, times, visit_start, users.cfg.continuation, rng)


def next_state(users: Users, state: UserState, items: np.ndarray, times: np.ndarray,
               responses: Responses, rng: np.random.Generator,
               ending: np.ndarray | None = None) -> UserState:
    """The users' rows after their session: new satisfaction, then a churn draw from it for
    the visits that end here (``ending``; all by default), and the items passed on
    remembered."""
    cfg = users.cfg
    satisfaction = next_satisfaction(state.satisfaction, responses.clicked,
                                     responses.completion, cfg)
    leaving = rng.random(satisfaction.size) < churn_probability(satisfaction, cfg)
    if ending is not None:
        leaving &= ending
    fatigue = state.fatigue
    if cfg.fatigue.enabled:
        exam = examination(items.shape[1], users.choice)
        fatigue = remember(fatigue, items, responses.click_position, exam, times, cfg.fatigue)
    return UserState(satisfaction, state.churned | leaving, fatigue)


def next_satisfaction(
    satisfaction: np.ndarray, clicked: np.ndarray, completion: np.ndarray, cfg: PopulationConfig
) -> np.ndarray:
    """Move satisfaction toward how the session went: completion if clicked, else idle_value."""
    outcome = np.where(clicked, completion, cfg.idle_value)
    return satisfaction + cfg.satisfaction_rate * (outcome - satisfaction)


def churn_probability(satisfaction: np.ndarray, cfg: PopulationConfig) -> np.ndarray:
    """Per-session hazard: churn_base * exp(sensitivity * (1 - satisfaction)), capped at 1."""
    return np.minimum(1.0, cfg.churn_base * np.exp(cfg.churn_sensitivity * (1 - satisfaction)))
