"""The Python API: compare two policies in a few lines, read the runs back, bad input named."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import recloop
from recloop.sim.config import ConfigError


def test_two_policies_compared_from_python(tmp_path: Path) -> None:
    small = ("users=small", "catalog=small", "days=4", "progress=false")
    ctr = {}
    for policy in ("random", "oracle"):
        result = recloop.run(recloop.config(*small, f"policy={policy}"), tmp_path / policy)
        finished = recloop.load_run(tmp_path / policy)
        assert finished.metrics.equals(result.metrics)  # what was written is what ran
        assert json.loads((tmp_path / policy / "run.json").read_text())["status"] == "complete"
        ctr[policy] = finished.metrics.query("metric == 'ctr'").value.mean()
    assert ctr["oracle"] > ctr["random"]  # ranking by true utility beats chance


def test_a_bad_value_names_the_field_and_a_finished_run_is_never_overwritten(
    tmp_path: Path,
) -> None:
    with pytest.raises(ConfigError, match=r"^serving\.k="):
        recloop.config("serving.k=0")
    cfg = recloop.config("users=small", "catalog=small", "days=1", "progress=false")
    recloop.run(cfg, tmp_path / "once")
    with pytest.raises(FileExistsError):
        recloop.run(cfg, tmp_path / "once")


def test_the_package_imports_light_and_names_its_api() -> None:
    assert recloop.__version__
    assert callable(recloop.simulate) and callable(recloop.load_run)
    with pytest.raises(AttributeError):
        recloop.nothing_here  # noqa: B018
