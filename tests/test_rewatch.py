"""Re-watching loved titles: the loved list, the replay draw, and what a run logs.

Statistical checks state their tolerance next to the assertion.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from agent_contract import small_catalog
from scipy.stats import chisquare

from recloop.agents.choice import ChoiceConfig
from recloop.agents.rewatch import LovedMemory, RewatchConfig, love, replay
from recloop.sim.config import RunConfig
from recloop.sim.story import simulate

MakeConfig = Callable[..., RunConfig]
CFG = RewatchConfig(per_session=1.0, loved_at=0.9, memory=3)


def test_loved_titles_queue_up_and_the_oldest_leaves_first() -> None:
    memory = LovedMemory.empty(1, CFG)
    for item, completion in ((5, 0.95), (6, 0.5), (7, 1.0), (5, 1.0), (8, 0.9), (9, 0.99)):
        memory = love(memory, np.array([item]), np.array([completion]), CFG)
    # 6 was not loved, the second 5 was already listed, 5 then left for 9
    assert memory.items[0].tolist() == [7, 8, 9]
    assert love(memory, np.array([-1]), np.array([0.0]), CFG).items[0].tolist() == [7, 8, 9]


def test_a_replay_is_one_of_the_loved_titles_picked_uniformly() -> None:
    catalog, n = small_catalog(), 30_000
    taste = np.tile(catalog.vectors[:1], (n, 1))
    memory = LovedMemory(np.tile(np.array([[-1, 4, 11, 20]], dtype=np.int32), (n, 1)))
    plays = replay(taste, memory, catalog, ChoiceConfig(), RewatchConfig(per_session=1.0),
                   np.random.default_rng(3))
    counts = np.array([(plays.items == i).sum() for i in (4, 11, 20)])
    assert counts.sum() == n
    assert chisquare(counts).pvalue > 1e-4  # uniform over the three; false alarm < 1e-4
    assert (plays.completion > 0).all()


def test_switched_off_nobody_replays() -> None:
    off = RewatchConfig(per_session=0.0)
    assert LovedMemory.empty(5, off).items.shape == (5, 0)
    assert not off.enabled


def test_replays_reach_the_log_after_the_first_watch(small_config: MakeConfig,
                                                     tmp_path: Path) -> None:
    cfg = small_config("days=5", "policy=popular", "users.rewatch.per_session=0.3",
                       "users.rewatch.loved_at=0.5")
    simulate(cfg, tmp_path)
    log = pd.read_parquet(tmp_path / "log")
    plays = log[log.clicked].sort_values("session")
    replays = plays[plays.duplicated(["user", "item"])]
    assert len(replays) > 0 and (replays.serving_path == "organic").all()
    first = plays.drop_duplicates(["user", "item"]).set_index(["user", "item"]).session
    assert (replays.session.to_numpy() >
            first.loc[list(zip(replays.user, replays.item, strict=True))].to_numpy()).all()
