"""Impression fatigue against hand-computed cases and its limiting case (nothing remembered)."""

from __future__ import annotations

import numpy as np
import pytest
from agent_contract import small_catalog

from recloop.agents import choice
from recloop.agents.choice import ChoiceConfig
from recloop.agents.fatigue import FatigueConfig, FatigueMemory, attraction_scale, remember

CFG = FatigueConfig(decay=0.5, half_life_days=2.0, memory=3)
EXAM = np.array([1.0, 0.6, 0.5])


def test_passed_items_gain_their_slots_examination_and_halve_per_half_life() -> None:
    memory = FatigueMemory.empty(1, CFG)
    items = np.array([[7, 8, 9]])
    after = remember(memory, items, np.array([2]), EXAM, np.array([10.0]), CFG)
    # clicked at slot 2: slots 0 and 1 were passed over; slot 2 was clicked, not worn
    assert sorted(zip(after.items[0].tolist(), after.weight[0].tolist())) == \
        [(-1, 0.0), (7, 1.0), (8, pytest.approx(0.6))]
    later = np.array([10.0 + 48.0])  # one half-life
    scale = attraction_scale(after, items, later, CFG)
    assert scale[0].tolist() == pytest.approx([0.5**0.5, 0.5**0.3, 1.0])


def test_repeated_passes_add_up_and_the_least_worn_item_is_forgotten_first() -> None:
    memory = FatigueMemory.empty(1, CFG)
    now = np.array([0.0])
    memory = remember(memory, np.array([[1, 2, 3]]), np.array([-1]), EXAM, now, CFG)
    memory = remember(memory, np.array([[1, 4, -1]]), np.array([-1]), EXAM, now, CFG)
    weights = dict(zip(memory.items[0].tolist(), memory.weight[0].tolist()))
    # item 1 passed twice at slot 0; item 4 replaced item 3 (weight 0.5, the least worn)
    assert weights == {1: pytest.approx(2.0), 2: pytest.approx(0.6), 4: pytest.approx(0.6)}


def test_a_fresh_memory_changes_no_response() -> None:
    """Limiting case: nothing remembered ⇒ exactly the responses without fatigue."""
    catalog = small_catalog()
    rng = np.random.default_rng(4)
    taste = rng.normal(size=(200, catalog.vectors.shape[1])).astype(np.float32)
    items = np.stack([rng.choice(catalog.n_items, 5, replace=False) for _ in range(200)])
    scale = attraction_scale(FatigueMemory.empty(200, CFG), items, np.zeros(200), CFG)
    plain = choice.respond(taste, items, catalog, ChoiceConfig(), np.random.default_rng(9))
    tired = choice.respond(taste, items, catalog, ChoiceConfig(), np.random.default_rng(9),
                           attraction_scale=scale)
    assert np.array_equal(plain.click_position, tired.click_position)
    assert np.array_equal(plain.completion, tired.completion)


def test_fatigue_off_keeps_no_memory() -> None:
    assert FatigueMemory.empty(10, FatigueConfig(decay=1.0)).items.shape == (10, 0)
