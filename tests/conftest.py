"""Shared fixtures: seeded randomness and small composed configs."""

from __future__ import annotations

import os
from collections.abc import Callable

import numpy as np
import pytest

from experiments.preflight import check_job
from sim.config import RunConfig

# Statistical tests use fixed seeds; RECLOOP_TEST_SEED re-runs them on other draws.
TEST_SEED = int(os.environ.get("RECLOOP_TEST_SEED", "20261129"))

SMALL = ["users=small", "catalog=small", "progress=false"]


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(TEST_SEED)


@pytest.fixture
def small_config() -> Callable[..., RunConfig]:
    """Compose the real Hydra config with the small world plus extra overrides."""

    def make(*overrides: str) -> RunConfig:
        return check_job([*SMALL, *overrides])

    return make
