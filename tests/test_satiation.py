"""Satiation against hand-computed cases, and its limiting case (nothing watched)."""

from __future__ import annotations

import numpy as np
import pytest

from recloop.agents.satiation import SatiationConfig, SatiationMemory, consume, utility_loss

CFG = SatiationConfig(weight=0.8, half_life_days=1.0)
GENRE = np.array([0, 1, 1, 2])


def test_a_watch_dulls_its_genre_and_recovers_by_half_each_half_life() -> None:
    memory = SatiationMemory.empty(2, 3, CFG)
    # user 0 watched 0.5 of a genre-1 title at hour 10; user 1 watched nothing
    memory = consume(memory, np.array([1, -1]), np.array([0.5, 0.0]), np.array([10.0, 10.0]),
                     CFG)
    items = np.array([[0, 1, 2, -1], [1, 2, 3, 0]])
    loss = utility_loss(memory, items, GENRE, np.array([34.0, 34.0]), CFG)  # a day later
    assert loss[0].tolist() == pytest.approx([0.0, 0.8 * 0.25, 0.8 * 0.25, 0.0])
    assert loss[1].tolist() == [0.0, 0.0, 0.0, 0.0]


def test_off_keeps_no_memory_and_takes_nothing() -> None:
    off = SatiationConfig(weight=0.0)
    assert SatiationMemory.empty(4, 3, off).level.shape == (4, 0)
    assert not off.enabled
