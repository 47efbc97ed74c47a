"""Shared fixtures: seeded randomness and small composed configs."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import yaml

from recloop.experiments.preflight import check_job
from recloop.sim.config import RunConfig

# Statistical tests use fixed seeds; RECLOOP_TEST_SEED re-runs them on other draws.
TEST_SEED = int(os.environ.get("RECLOOP_TEST_SEED", "20261129"))

SMALL = ["users=small", "catalog=small", "progress=false"]


def _flat(tree: dict, prefix: str) -> list[str]:
    return [line for key, value in tree.items() for line in (
        _flat(value, f"{prefix}{key}.") if isinstance(value, dict) else [f"{prefix}{key}={value}"])]


# Every user behaviour off, as overrides for any world: conf/users/memoryless.yaml's switches,
# for tests whose formula is the memoryless model's.
MEMORYLESS = _flat({k: v for k, v in yaml.safe_load(
    (Path(__file__).parents[1] / "conf" / "users" / "memoryless.yaml").read_text()).items()
    if k != "defaults"}, "users.")


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(TEST_SEED)


@pytest.fixture
def small_config() -> Callable[..., RunConfig]:
    """Compose the real Hydra config with the small world plus extra overrides."""

    def make(*overrides: str) -> RunConfig:
        return check_job([*SMALL, *overrides])

    return make


def entry_point(target: str, args: list[str], cwd: Path, timeout: float = 600,
                env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``module:function`` like its console script, in a fresh interpreter."""
    module, func = target.split(":")
    code = f"import sys; from {module} import {func}; sys.exit({func}())"
    return subprocess.run([sys.executable, "-c", code, *args], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout, check=False, env=env)


def recloop(args: list[str], cwd: Path, **kwargs: object) -> subprocess.CompletedProcess[str]:
    """The ``recloop`` console script (see ``entry_point`` for the options)."""
    return entry_point("recloop.experiments.run:cli", args, cwd, **kwargs)  # type: ignore[arg-type]
