"""Nightly fidelity of a deployed model, measured against ground truth on a fixed sample.

After each night's deploy, a fixed sample of users (drawn once per run) is served in
counterfactual by a copy of the arm's model, as the day begins: how well its ranking of
the items it may show agrees with each user's own part of true utility, and how much of
the welfare gap between random and oracle slates its slates close (true utility weighted
by the examination probability of each slot). The copy keeps the model's own random
stream untouched, so measuring never changes what users are served; it also lets the
measurement run on a worker thread while the day goes on (``measure_later``).
"""

from __future__ import annotations

import copy
from concurrent.futures import Future

import numpy as np

from recloop.agents.choice import examination, utility_for_all_items
from recloop.policies.allowed import allowed_items
from recloop.policies.base import Policy
from recloop.policies.chunk_threads import run_chunks
from recloop.policies.ranking import top_k
from recloop.policies.types import ServeContext
from recloop.policies.wrappers import greedy
from recloop.sim.metrics.fidelity import rank_agreement
from recloop.sim.metrics.inputs import Fidelity
from recloop.sim.worker import on_worker
from recloop.sim.world import World

SAMPLE_USERS = 200  # measured: 0.19 s a night at 500 users, 0.07 s at 200
AGREEMENT_ROWS = 50  # users per chunk of the rank agreement, sorted on one thread per core


def fidelity_sample(n_users: int, rng: np.random.Generator) -> np.ndarray:
    """The run's fixed measurement sample, sorted user ids."""
    return np.sort(rng.choice(n_users, min(SAMPLE_USERS, n_users), replace=False))


def measure(policy: Policy, users: np.ndarray, taste: np.ndarray, ctx: ServeContext,
            world: World, item_value: np.ndarray, k: int) -> Fidelity:
    """The model's rank agreement per user and the welfare of served, random, oracle slates;
    ``taste`` holds the users' tastes now (rows aligned with ``users``)."""
    return _measure_copy(copy.deepcopy(policy), users, taste, ctx, world, item_value, k)


def measure_later(policy: Policy, users: np.ndarray, taste: np.ndarray, ctx: ServeContext,
                  world: World, item_value: np.ndarray, k: int) -> Future[Fidelity]:
    """``measure`` on a worker thread, the model copied now: the day may serve from it
    meanwhile. ``taste`` and ``ctx`` must not change until the result is in (a copy, and
    a context holding a snapshot of the users' watched rows)."""
    model = copy.deepcopy(policy)
    return on_worker(lambda: _measure_copy(model, users, taste, ctx, world, item_value, k))


def _measure_copy(model: Policy, users: np.ndarray, taste: np.ndarray, ctx: ServeContext,
                  world: World, item_value: np.ndarray, k: int) -> Fidelity:
    """``measure`` with a copy of the model that nothing else uses."""
    utility = utility_for_all_items(taste, world.catalog, world.choice)
    allowed = allowed_items(users, ctx)
    width = max(int(allowed.sum(axis=1).max(initial=0)), 1)
    ranked, _ = greedy(model).candidates(users, width, ctx)
    agreement = agreement_in_chunks(ranked, utility - item_value[None, :])
    exam = examination(k, world.choice)
    served = slate_welfare(model.recommend(users, k, ctx).items, utility, exam)
    oracle = slate_welfare(top_k(np.where(allowed, utility, -np.inf), k), utility, exam)
    return Fidelity(agreement, served, random_welfare(utility, allowed, exam), oracle)


def agreement_in_chunks(ranked: np.ndarray, value: np.ndarray) -> np.ndarray:
    """``rank_agreement`` in chunks of users on one thread per core: the same numbers (each
    row is its own), sooner, since its whole-row sorts dominate a night's measure at 20,000
    items and NumPy sorts without holding the interpreter."""
    agreement = np.empty(ranked.shape[0])

    def rows(chunk: int) -> None:
        block = slice(chunk * AGREEMENT_ROWS, (chunk + 1) * AGREEMENT_ROWS)
        agreement[block] = rank_agreement(ranked[block], value[block])

    run_chunks(rows, -(-ranked.shape[0] // AGREEMENT_ROWS), threads=0)
    return agreement


def slate_welfare(items: np.ndarray, utility: np.ndarray, exam: np.ndarray) -> float:
    """Σ over rows and slots of examination × true utility (empty slots count 0)."""
    shown = items >= 0
    values = np.take_along_axis(utility, np.maximum(items, 0), axis=1)
    return float((np.where(shown, values, 0.0) * exam[None, : items.shape[1]]).sum())


def random_welfare(utility: np.ndarray, allowed: np.ndarray, exam: np.ndarray) -> float:
    """Expected ``slate_welfare`` of uniformly random slates of allowed items."""
    count = allowed.sum(axis=1)
    mean = np.where(allowed, utility, 0.0).sum(axis=1) / np.maximum(count, 1)
    weight = np.cumsum(exam)[np.minimum(count, exam.size) - 1] * (count > 0)
    return float((mean * weight).sum())
