"""The users' side of a session as pure transitions: respond to a slate, then move on.

The engine hands each arriving user a slate and takes back the responses and the users'
new state rows; it never reaches into the population's arrays. Both steps are pure: they
read their inputs and a random stream, return new values and mutate nothing, so a test
can replay them, and a new behaviour is one more transition with its own state fields.

* ``respond``: examine, click at most once, watch (``agents/choice.py``); items the user
  passed on before attract less (``agents/fatigue.py``).
* Satiation: a genre just watched is worth less for a while (``agents/satiation.py``).
* ``find_organic``: some sessions also bring a play found outside the recommender
  (``agents/organic.py``).
* ``continue_visit``: after a slate the user may ask for another (``agents/continuation.py``).
* ``replay_loved``: some sessions bring a replay of a loved title (``agents/rewatch.py``).
* Drift: what users watch pulls their tastes toward it (``agents/drift.py``).
* ``next_state``: satisfaction moves toward how the session went (completion if clicked,
  else ``idle_value``); the user then churns with probability
  ``min(1, churn_base * exp(churn_sensitivity * (1 - satisfaction)))`` (per day by
  default, ``agents/visits.py``); passed-over items are remembered.

Each behaviour is a switch in ``UsersConfig`` with its own config and a documented default;
all are on by default, and each module says what its default does and which value turns
it off (``users=memoryless`` turns them all off: the world before they existed).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from recloop.agents import choice
from recloop.agents.catalog import Catalog
from recloop.agents.choice import ChoiceConfig, Responses, examination
from recloop.agents.continuation import ContinuationConfig, NextRequests, next_requests
from recloop.agents.draws import Draws, as_draws
from recloop.agents.drift import DriftConfig, drift
from recloop.agents.fatigue import FatigueConfig, FatigueMemory, attraction_scale, remember
from recloop.agents.organic import OrganicConfig, OrganicPlays, find
from recloop.agents.per_user import PerUser
from recloop.agents.playable import Playable
from recloop.agents.population import Population, PopulationConfig
from recloop.agents.rewatch import LovedMemory, RewatchConfig, love, replay
from recloop.agents.satiation import SatiationConfig, SatiationMemory, consume, utility_loss
from recloop.agents.visits import VisitsConfig


@dataclass
class UsersConfig(PopulationConfig):
    """The population, how its members choose, and each switchable behaviour."""

    choice: ChoiceConfig = field(default_factory=ChoiceConfig)
    fatigue: FatigueConfig = field(default_factory=FatigueConfig)
    organic: OrganicConfig = field(default_factory=OrganicConfig)
    continuation: ContinuationConfig = field(default_factory=ContinuationConfig)
    visits: VisitsConfig = field(default_factory=VisitsConfig)
    satiation: SatiationConfig = field(default_factory=SatiationConfig)
    rewatch: RewatchConfig = field(default_factory=RewatchConfig)
    drift: DriftConfig = field(default_factory=DriftConfig)


@dataclass
class UserState(PerUser):
    """What changes about users during a run, one row per user (traits live in Population)."""

    satisfaction: np.ndarray  # float64[n] in [0, 1]
    churned: np.ndarray  # bool[n]
    fatigue: FatigueMemory  # items passed on, per user (no columns when fatigue is off)
    joined: np.ndarray  # bool[n]: signed up by now (everyone but later sign-ups)
    satiation: SatiationMemory  # per user and genre (no columns when satiation is off)
    loved: LovedMemory  # titles each user loved, for replays (no columns when off)
    taste: np.ndarray  # float32[n, d] unit rows: the drawn tastes, moved by drift

    @classmethod
    def initial(cls, population: Population, cfg: UsersConfig, n_genres: int) -> UserState:
        """One row per user drawn; the first ``cfg.n_users`` have joined, sign-ups wait."""
        n_users = population.n_users
        return cls(np.full(n_users, cfg.satisfaction_init), np.zeros(n_users, dtype=bool),
                   FatigueMemory.empty(n_users, cfg.fatigue), np.arange(n_users) < cfg.n_users,
                   SatiationMemory.empty(n_users, n_genres, cfg.satiation),
                   LovedMemory.empty(n_users, cfg.rewatch), population.taste.copy())

    @property
    def active(self) -> np.ndarray:
        """bool[n]: joined and not churned."""
        return self.joined & ~self.churned

    def active_ids(self) -> np.ndarray:
        """Users who have joined and not churned."""
        return np.flatnonzero(self.active)


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
            times: np.ndarray, draws: Draws | np.random.Generator) -> Responses:
    """Each user's reaction to their slate (row of ``items``) at ``times`` (run hours);
    ``state`` holds their rows."""
    cfg = users.cfg
    scale = None
    if cfg.fatigue.enabled:
        scale = attraction_scale(state.fatigue, items, times, cfg.fatigue)
    loss = None
    if cfg.satiation.enabled:
        loss = utility_loss(state.satiation, items, users.catalog.genre, times, cfg.satiation)
    return choice.respond(state.taste, items, users.catalog, users.choice, draws,
                          attraction_scale=scale, utility_loss=loss)


def find_organic(users: Users, state: UserState, allowed: np.ndarray | Playable,
                 plays: np.ndarray,
                 draws: Draws | np.random.Generator) -> OrganicPlays:
    """Plays the sessions (``state`` rows) bring from outside the recommender
    (``agents/organic.py``); ``allowed`` marks what each may still play, ``plays`` the
    service's plays per item."""
    return find(state.taste, allowed, plays, users.catalog, users.choice,
                users.cfg.organic, draws)


def continue_visit(users: Users, responses: Responses, times: np.ndarray,
                   visit_start: np.ndarray, draws: Draws | np.random.Generator) -> NextRequests:
    """Who asks for another slate after this one, and when (``agents/continuation.py``)."""
    return next_requests(responses, times, visit_start, users.cfg.continuation, draws)


def next_state(users: Users, state: UserState, items: np.ndarray, times: np.ndarray,
               responses: Responses, draws: Draws | np.random.Generator,
               ending: np.ndarray | None = None) -> UserState:
    """The users' rows after their session: new satisfaction, then a churn draw from it for
    the visits that end here (``ending``; all by default), and the items passed on
    remembered."""
    cfg = users.cfg
    satisfaction = next_satisfaction(state.satisfaction, responses.clicked,
                                     responses.completion, cfg)
    draw = as_draws(draws, satisfaction.size).uniform(1, tag=5)[:, 0]
    leaving = draw < churn_probability(satisfaction, cfg)
    if ending is not None:
        leaving &= ending
    if cfg.visits.churn_per == "day":
        leaving[:] = False  # drawn at midnight instead (``daily_churn``)
    fatigue = state.fatigue
    if cfg.fatigue.enabled:
        exam = examination(items.shape[1], users.choice)
        fatigue = remember(fatigue, items, responses.click_position, exam, times, cfg.fatigue)
    watched = np.where(responses.clicked, items[np.arange(items.shape[0]),
                                                np.maximum(responses.click_position, 0)], -1)
    satiation = state.satiation
    if cfg.satiation.enabled:
        genres = np.where(watched >= 0, users.catalog.genre[np.maximum(watched, 0)], -1)
        satiation = consume(satiation, genres, responses.completion, times, cfg.satiation)
    loved = state.loved
    if cfg.rewatch.enabled:
        loved = love(loved, watched, responses.completion, cfg.rewatch)
    taste = state.taste
    if cfg.drift.enabled:
        taste = drift(taste, watched, responses.completion, users.catalog, cfg.drift)
    return UserState(satisfaction, state.churned | leaving, fatigue, state.joined, satiation,
                     loved, taste)


def replay_loved(users: Users, state: UserState,
                 draws: Draws | np.random.Generator) -> OrganicPlays:
    """Replays of loved titles the sessions (``state`` rows) bring (``agents/rewatch.py``)."""
    return replay(state.taste, state.loved, users.catalog, users.choice, users.cfg.rewatch,
                  draws)


def daily_churn(users: Users, state: UserState, ids: np.ndarray, draws: Draws | np.random.Generator) -> np.ndarray:
    """bool[len(ids)]: which of the active users ``ids`` leave at this midnight."""
    hazard = churn_probability(state.satisfaction[ids], users.cfg)
    return as_draws(draws, ids.size).uniform(1, tag=6)[:, 0] < hazard


def next_satisfaction(
    satisfaction: np.ndarray, clicked: np.ndarray, completion: np.ndarray, cfg: PopulationConfig
) -> np.ndarray:
    """Move satisfaction toward how the session went: completion if clicked, else idle_value."""
    outcome = np.where(clicked, completion, cfg.idle_value)
    return satisfaction + cfg.satisfaction_rate * (outcome - satisfaction)


def churn_probability(satisfaction: np.ndarray, cfg: PopulationConfig) -> np.ndarray:
    """Per-session hazard: churn_base * exp(sensitivity * (1 - satisfaction)), capped at 1."""
    return np.minimum(1.0, cfg.churn_base * np.exp(cfg.churn_sensitivity * (1 - satisfaction)))
