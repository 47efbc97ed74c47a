"""Taste drift: its limiting case and its direction."""

from __future__ import annotations

import numpy as np
from agent_contract import small_catalog

from recloop.agents.catalog import unit_rows
from recloop.agents.drift import DriftConfig, drift


def tastes(n: int, d: int) -> np.ndarray:
    return unit_rows(np.random.default_rng(1).normal(size=(n, d))).astype(np.float32)


def test_rate_zero_keeps_tastes_and_nothing_watched_keeps_them_too() -> None:
    catalog = small_catalog()
    taste = tastes(50, catalog.vectors.shape[1])
    watched = np.arange(50) % catalog.n_items
    assert np.array_equal(drift(taste, watched, np.ones(50), catalog, DriftConfig(rate=0.0)),
                          taste)
    assert np.array_equal(drift(taste, np.full(50, -1), np.ones(50), catalog,
                                DriftConfig(rate=0.3)), taste)


def test_a_watch_pulls_taste_toward_the_title_in_proportion_to_how_much_was_watched() -> None:
    catalog = small_catalog()
    taste = tastes(200, catalog.vectors.shape[1])
    watched = np.arange(200) % catalog.n_items
    vectors = catalog.vectors[watched]
    before = (taste * vectors).sum(axis=1)
    half = drift(taste, watched, np.full(200, 0.5), catalog, DriftConfig(rate=0.2))
    full = drift(taste, watched, np.ones(200), catalog, DriftConfig(rate=0.2))
    closer_half, closer_full = (half * vectors).sum(axis=1), (full * vectors).sum(axis=1)
    assert np.all(closer_half >= before - 1e-6) and np.all(closer_full >= closer_half - 1e-6)
    assert np.allclose(np.linalg.norm(full, axis=1), 1.0, atol=1e-5)  # still unit vectors
