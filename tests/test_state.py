"""The run's state is one value: everything that changes, reachable from ``RunState``."""

from __future__ import annotations

import pickle
from collections.abc import Callable
from pathlib import Path

import numpy as np

from recloop.sim.config import RunConfig
from recloop.sim.state import ServingState, ShadowState
from recloop.sim.story import simulate

MakeConfig = Callable[..., RunConfig]


def test_state_after_midnight_pickles_as_one_value_and_resumes_its_streams(
    small_config: MakeConfig, tmp_path: Path
) -> None:
    cfg = small_config("days=3", "policy=popular", "policy@ab.treatment=popular",
                       "ab.share=0.5", "policy@shadow=popular", "serving=realtime")
    state = simulate(cfg, tmp_path).state
    copy = pickle.loads(pickle.dumps(state))
    assert set(copy.arms) == {"control", "treatment", "shadow"}
    assert isinstance(copy.arms["control"], ServingState)
    assert isinstance(copy.arms["shadow"], ShadowState)
    assert np.array_equal(copy.seen, state.seen) and copy.next_session == state.next_session
    assert np.array_equal(copy.users.satisfaction, state.users.satisfaction)
    for name, arm in state.arms.items():
        assert [r.version for r in copy.arms[name].pipeline.records] == \
            [r.version for r in arm.pipeline.records]
    # every stream continues where the run left it, in the copy as in the original
    for name, rng in state.streams.items():
        assert np.array_equal(copy.streams[name].random(4), rng.random(4)), name
    for name, arm in state.arms.items():
        assert np.array_equal(copy.arms[name].pipeline.rng.random(4), arm.pipeline.rng.random(4))


def test_the_state_holds_what_the_day_tallied(small_config: MakeConfig, tmp_path: Path) -> None:
    """The last day's tally in the state agrees with the metrics the run wrote for it."""
    result = simulate(small_config("days=2", "policy=popular"), tmp_path)
    arm = result.state.arms[result.arms[0]]
    assert isinstance(arm, ServingState)
    last = result.metrics[result.metrics.day == 1].set_index("metric")["value"]
    assert arm.tally.impressions.sum() == last["impressions"]
    assert arm.ctr[1] == last["ctr"]
    assert result.state.users.active.sum() == last["active_users"]
