"""A day's sessions answered in shards by user give the same bytes as one batch.

The end-to-end tests run the small world with every behaviour that reads the round's
shared state (continuation, organic finds, replays) and compare what each shard count
wrote: the metrics table and every sealed log partition, byte for byte.
"""

from __future__ import annotations

import hashlib
import pickle
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from recloop.agents.organic import OrganicPlays
from recloop.sim.config import ConfigError, RunConfig, ShardConfig
from recloop.sim.shards import Shards, gather_plays, scatter, shard_rows
from recloop.sim.story import simulate

MakeConfig = Callable[..., RunConfig]
SHARED_DRAWS = ("common_random_numbers=true", "days=3", "shards.min_requests=1")


def test_shard_rows_partition_the_round_by_user() -> None:
    users = np.array([7, 2, 9, 4, 11, 0, 5])
    parts = shard_rows(users, 3)
    rows = np.concatenate(parts)
    assert sorted(rows.tolist()) == list(range(users.size))
    for part in parts:
        assert np.unique(users[part] % 3).size == 1
        assert np.all(np.diff(part) > 0)  # round order kept within a shard
    assert len(shard_rows(np.array([3, 6]), 3)) == 1  # empty shards left out


@dataclass(frozen=True)
class _Pair:
    score: np.ndarray
    nothing: None


def test_scatter_puts_each_part_back_in_its_rows() -> None:
    whole = _Pair(np.arange(10.0).reshape(5, 2), None)
    parts = [np.array([0, 3]), np.array([1, 2, 4])]
    pieces = [(rows, _Pair(whole.score[rows], None)) for rows in parts]
    back = scatter(pieces, 5)
    np.testing.assert_array_equal(back.score, whole.score)
    assert back.nothing is None
    with pytest.raises(TypeError):
        scatter([(parts[0], "text")], 5)


def test_gathered_plays_come_back_in_batch_row_order() -> None:
    def plays(rows: list[int]) -> OrganicPlays:
        r = np.array(rows)
        return OrganicPlays(r, r + 100, np.full(r.size, 0.5), np.zeros(r.size))

    # part 0 covers batch rows 1 and 4, part 1 covers rows 0, 2, 3
    parts = [(np.array([1, 4]), plays([0, 1, 1])), (np.array([0, 2, 3]), plays([2, 0]))]
    merged = gather_plays(parts)
    assert merged is not None
    assert merged.rows.tolist() == [0, 1, 3, 4, 4]
    assert merged.items.tolist() == [100, 100, 102, 101, 101]
    assert gather_plays([(np.array([0]), None)]) is None


@pytest.mark.parametrize("overrides, allowed", [
    (("shards.n=2",), "1 unless common_random_numbers=true"),
    (("shards.n=2", *SHARED_DRAWS, "users.organic.sampler=rejection"),
     "1 unless users.organic.sampler=scan"),
    (("shards.n=2", *SHARED_DRAWS, "policy.epsilon=0.1"), "1 while policy draws per request"),
    (("shards.n=2", *SHARED_DRAWS, "policy=random"), "1 while policy draws per request"),
    (("shards.n=65", *SHARED_DRAWS), "1..64"),
    (("shards.workers=fibres",), "threads, processes"),
])
def test_a_split_that_could_change_numbers_is_refused(small_config: MakeConfig,
                                                      overrides: tuple[str, ...],
                                                      allowed: str) -> None:
    with pytest.raises(ConfigError, match=allowed):
        small_config(*overrides)


def fingerprint(cfg: RunConfig, path: Path) -> dict[str, str]:
    """SHA-256 of the metrics table and of every sealed log partition."""
    result = simulate(cfg, path)
    digests = {"metrics": hashlib.sha256(result.metrics.to_csv().encode()).hexdigest()}
    for part in sorted((path / "log").rglob("*.parquet")):
        digests[str(part.relative_to(path))] = hashlib.sha256(part.read_bytes()).hexdigest()
    assert len(digests) > 3
    return digests


def same_for_every_split(small_config: MakeConfig, path: Path, splits: list[str],
                         *overrides: str) -> None:
    one = fingerprint(small_config(*SHARED_DRAWS, *overrides), path / "one")
    for split in splits:
        many = fingerprint(small_config(*SHARED_DRAWS, *overrides, *split.split()),
                           path / split.replace(" ", "_"))
        assert many == one, split


def test_als_batch_serving_is_the_same_in_one_two_or_four_shards(small_config: MakeConfig,
                                                                 tmp_path: Path) -> None:
    same_for_every_split(small_config, tmp_path, ["shards.n=2", "shards.n=4"],
                         "policy=als", "serving=batch")


@pytest.mark.slow
def test_real_time_ab_and_shadow_are_the_same_in_shards(small_config: MakeConfig,
                                                           tmp_path: Path) -> None:
    same_for_every_split(small_config, tmp_path, ["shards.n=3"], "serving=realtime",
                         "policy=als", "policy@ab.treatment=item_knn", "ab=pooled",
                         "policy@shadow=popular")


@pytest.mark.slow
def test_worker_processes_give_the_same_bytes_as_threads(small_config: MakeConfig,
                                                         tmp_path: Path) -> None:
    same_for_every_split(small_config, tmp_path, ["shards.n=2 shards.workers=processes"],
                         "policy=als", "serving=hybrid")


def test_a_checkpoint_keeps_the_split_but_not_the_workers() -> None:
    with ThreadPoolExecutor(max_workers=1) as pool:
        shards = Shards(ShardConfig(n=3, min_requests=7), pool)
        back = pickle.loads(pickle.dumps(shards))
    assert (back.n, back.min_requests, back.pool) == (3, 7, None)
