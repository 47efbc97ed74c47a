"""The contract every user behaviour must pass, run through ``agents.users``' transitions.

A behaviour's test module subclasses ``AgentContract`` and supplies ``make_users`` (the
hidden model) and ``make_state`` (users' rows as a run would hold them); the mixin checks:

* ``respond``: one response per user; the click position is -1 or a filled slot; a
  completion in [MIN_WATCH, 1] exactly where there is a click, 0 elsewhere; true utility
  finite exactly on filled slots; inputs untouched.
* ``next_state``: same users, satisfaction in [0, 1], churn never undone, inputs untouched.
* the same inputs and the same stream give the same outputs; another stream, others.
* what the service may log of a response (``LOGGED_FIELDS``) is not hidden truth in
  disguise: no logged field is a monotone function of the true utility of what was shown.
"""

from __future__ import annotations

from dataclasses import fields

import numpy as np
from scipy.stats import spearmanr

from recloop.agents.catalog import Catalog, CatalogConfig, generate_catalog
from recloop.agents.choice import MIN_WATCH, Responses
from recloop.agents.users import Users, UserState, next_state, respond

LOGGED_FIELDS = ("click_position", "completion")  # what sim/impressions.py writes of a response
N_USERS, K = 400, 6


def session_times(ids: np.ndarray) -> np.ndarray:
    """Run hours of one session per user, spread over a day."""
    return 24.0 * 3 + (ids % 24).astype(float)


def small_catalog(seed: int = 7) -> Catalog:
    return generate_catalog(CatalogConfig(n_items=60, n_genres=6, clickbait_fraction=0.2),
                            np.random.default_rng(seed))


class AgentContract:
    """Mixin: subclasses define ``make_users`` and ``make_state``."""

    def make_users(self) -> Users:
        raise NotImplementedError

    def make_state(self, users: Users) -> UserState:
        raise NotImplementedError

    def slates(self, users: Users, seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
        """Distinct user ids and one slate each, some slots left empty (-1)."""
        rng = np.random.default_rng(seed)
        ids = np.sort(rng.choice(users.population.n_users, N_USERS, replace=False))
        items = np.stack([rng.choice(users.catalog.n_items, K, replace=False)
                          for _ in range(N_USERS)]).astype(np.int32)
        items[rng.random(N_USERS) < 0.2, -2:] = -1  # short slates: padding at the end
        return ids, items

    def session(self, seed: int = 11) -> tuple[Responses, UserState, UserState, np.ndarray]:
        users = self.make_users()
        ids, items = self.slates(users)
        before = self.make_state(users).rows(ids)
        rng = np.random.default_rng(seed)
        times = session_times(ids)
        resp = respond(users, before, ids, items, times, rng)
        return resp, before, next_state(users, before, items, times, resp, rng), items

    def test_responses_have_one_row_per_user_and_valid_ranges(self) -> None:
        resp, _, _, items = self.session()
        assert resp.click_position.shape == resp.completion.shape == (N_USERS,)
        assert resp.utility.shape == items.shape
        clicked = resp.click_position >= 0
        assert np.all(resp.click_position < K) and np.all(resp.click_position >= -1)
        rows = np.flatnonzero(clicked)
        assert np.all(items[rows, resp.click_position[rows]] >= 0), "clicked an empty slot"
        assert np.all((resp.completion[clicked] >= MIN_WATCH) & (resp.completion[clicked] <= 1))
        assert np.all(resp.completion[~clicked] == 0)
        assert np.array_equal(np.isfinite(resp.utility), items >= 0)

    def test_next_state_keeps_rows_in_range_and_never_revives(self) -> None:
        _, before, after, _ = self.session()
        assert after.satisfaction.shape == before.satisfaction.shape
        assert np.all((after.satisfaction >= 0) & (after.satisfaction <= 1))
        assert np.all(after.churned >= before.churned), "a churned user came back"

    def test_transitions_do_not_mutate_their_inputs(self) -> None:
        users = self.make_users()
        ids, items = self.slates(users)
        state = self.make_state(users)
        rows = state.rows(ids)
        copies = [items.copy(), rows.satisfaction.copy(), rows.churned.copy(),
                  state.satisfaction.copy(), rows.fatigue.items.copy(),
                  rows.fatigue.weight.copy()]
        rng, times = np.random.default_rng(5), session_times(ids)
        resp = respond(users, rows, ids, items, times, rng)
        next_state(users, rows, items, times, resp, rng)
        after = [items, rows.satisfaction, rows.churned, state.satisfaction, rows.fatigue.items,
                 rows.fatigue.weight]
        assert all(np.array_equal(a, b) for a, b in zip(copies, after, strict=True))

    def test_same_inputs_and_stream_give_the_same_outputs(self) -> None:
        a, b, c = self.session(seed=21), self.session(seed=21), self.session(seed=22)
        for name in (f.name for f in fields(Responses)):
            assert np.array_equal(getattr(a[0], name), getattr(b[0], name), equal_nan=True)
        assert np.array_equal(a[2].satisfaction, b[2].satisfaction)
        assert not np.array_equal(a[0].click_position, c[0].click_position)

    def test_logged_fields_are_not_hidden_truth_in_disguise(self) -> None:
        resp, _, _, _ = self.session()
        clicked = resp.click_position >= 0
        rows = np.flatnonzero(clicked)
        truth = resp.utility[rows, resp.click_position[rows]]
        assert set(LOGGED_FIELDS) < {f.name for f in fields(Responses)}
        for name in LOGGED_FIELDS:
            logged = getattr(resp, name)[rows].astype(float)
            rho = spearmanr(logged, truth).statistic
            # 0.95: the Beta watch noise keeps completion's rank correlation with utility
            # well below 1 (about 0.3 here); a field copying utility would be exactly 1
            assert not np.isfinite(rho) or abs(rho) < 0.95, f"{name} mirrors true utility"
