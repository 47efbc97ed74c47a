"""A gated candidate fitted during the day before its night is the model the night would
have fitted: same metrics, same log, same factors; and the night fits anew when the
candidate was fitted for another night."""

from __future__ import annotations

import pickle
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recloop.sim.config import RunConfig
from recloop.sim.pipeline.early_fit import Ahead
from recloop.sim.pipeline.nightly import NightlyJob
from recloop.sim.pipeline.registry import load_model
from recloop.sim.story import simulate

MakeConfig = Callable[..., RunConfig]
WORLD = ("days=7", "policy=als", "pipeline.keep_models=all")


def run_models(cfg: RunConfig, path: Path) -> tuple[pd.DataFrame, list[np.ndarray]]:
    """The run's metrics and every registered model's item factors."""
    result = simulate(cfg, path)
    models = [load_model(path / artifact).item_factors_
              for artifact in result.registry.artifact if artifact]
    return result.metrics, models


def test_candidates_fitted_ahead_are_the_ones_the_night_fits(
    small_config: MakeConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = small_config(*WORLD)
    taken: list[bool] = []
    take = Ahead.take

    def counted(self: Ahead, key: tuple) -> object:
        found = take(self, key)
        taken.append(found is not None)
        return found

    monkeypatch.setattr(Ahead, "take", counted)
    ahead_metrics, ahead_models = run_models(cfg, tmp_path / "ahead")
    assert taken == [True] * 5  # nights 2-6 judge a candidate trained on days sealed a day early
    monkeypatch.setattr(NightlyJob, "fit_ahead", lambda self, night, shape: None)
    night_metrics, night_models = run_models(cfg, tmp_path / "night")
    pd.testing.assert_frame_equal(ahead_metrics, night_metrics)
    assert len(ahead_models) == len(night_models) > 4
    for a, b in zip(ahead_models, night_models, strict=True):
        assert np.array_equal(a, b)
    for day in range(7):
        name = f"log/day={day:04d}.parquet"
        assert (tmp_path / "ahead" / name).read_bytes() == (tmp_path / "night" / name).read_bytes()


def test_a_fit_for_another_night_is_not_taken() -> None:
    ahead = Ahead()
    ahead.start(("v3", (0, 1)), lambda: "fitted")
    assert ahead.take(("v3", (0, 1, 2))) is None
    assert ahead.take(("v3", (0, 1))) is None  # taken once: nothing is left in flight
    ahead.start(("v4",), lambda: "fitted")
    assert ahead.take(("v4",)) == "fitted"


def test_a_failed_fit_raises_on_its_night_only() -> None:
    def broken() -> None:
        raise ValueError("no positives")

    ahead = Ahead()
    ahead.start(("v3",), broken)
    assert ahead.take(("v4",)) is None  # another night: it fits anew and meets the error itself
    ahead.start(("v3",), broken)
    with pytest.raises(ValueError, match="no positives"):
        ahead.take(("v3",))


def test_a_checkpoint_waits_for_the_fit_and_holds_no_thread() -> None:
    release, finished = threading.Event(), threading.Event()

    def slow() -> str:
        release.wait(5)
        finished.set()
        return "fitted"

    ahead = Ahead()
    ahead.start(("v3",), slow)
    threading.Timer(0.05, release.set).start()
    restored = pickle.loads(pickle.dumps(ahead))
    assert finished.is_set()  # pickling waited for the fit
    assert restored.take(("v3",)) is None  # a resumed night fits its candidate anew
    assert ahead.take(("v3",)) == "fitted"  # the running one still has it
