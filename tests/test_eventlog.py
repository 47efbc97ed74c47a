"""The log is append-only per day, sealed atomically, and windows see only the past."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from recloop.sim.eventlog import SCHEMA, EventLog
from recloop.sim.window import TrainConfig, build_window, window_days

LABELS = {"arm": "main", "policy": "test"}


def rows(day: int, users: list[int], items: list[int], clicked: list[bool], completion: list[float]):
    n = len(users)
    return {
        "day": np.full(n, day),
        "time": np.full(n, 24.0 * day + 1.5),
        "user": np.array(users),
        "session": np.arange(n),
        "position": np.arange(n) % 10,
        "item": np.array(items),
        "model_version": np.full(n, day + 1),
        "propensity": np.array([np.nan] + [1.0] * (n - 1)),
        "clicked": np.array(clicked),
        "completion": np.array(completion),
        "serving_path": np.arange(n) % 3,
    }


def sealed_log(tmp_path: Path) -> EventLog:
    log = EventLog(tmp_path / "log")
    log.append(LABELS, **rows(0, [0, 1, 2], [5, 6, 7], [True, False, True], [0.9, 0.0, 0.3]))
    log.seal(0)
    log.append(LABELS, **rows(1, [0, 3], [6, 5], [True, True], [0.95, 0.85]))
    log.seal(1)
    return log


def test_partition_round_trips_with_schema(tmp_path: Path) -> None:
    log = sealed_log(tmp_path)
    table = pq.read_table(log.path(0))
    assert table.schema.equals(SCHEMA)
    frame = log.read([0])
    assert frame["item"].tolist() == [5, 6, 7]
    assert frame["propensity"].isna().tolist() == [True, False, False]
    assert set(frame["policy"]) == {"test"}
    assert frame["serving_path"].astype(str).tolist() == ["batch", "realtime", "popular"]
    assert sorted(p.name for p in log.root.iterdir()) == ["day=0000.parquet", "day=0001.parquet"]


def test_partitions_are_immutable(tmp_path: Path) -> None:
    log = sealed_log(tmp_path)
    log.append(LABELS, **rows(1, [9], [9], [False], [0.0]))
    with pytest.raises(FileExistsError):
        log.seal(1)
    assert log.read([1])["user"].tolist() == [0, 3]


def test_missing_column_is_refused(tmp_path: Path) -> None:
    log = EventLog(tmp_path)
    columns = rows(0, [0], [1], [True], [1.0])
    del columns["propensity"]
    with pytest.raises(ValueError, match="propensity"):
        log.append(LABELS, **columns)


def test_data_version_tracks_partitions(tmp_path: Path) -> None:
    log = sealed_log(tmp_path / "a")
    other = EventLog(tmp_path / "b")
    other.append(LABELS, **rows(0, [0, 1, 2], [5, 6, 8], [True, False, True], [0.9, 0.0, 0.3]))
    other.seal(0)
    assert log.data_version([0]) != log.data_version([0, 1])
    assert log.data_version([0]) != other.data_version([0])  # same name, other content
    assert log.data_version([0, 1]) == log.data_version([0, 1])


def test_window_is_point_in_time() -> None:
    assert window_days(0, 14) == []
    assert window_days(5, 3) == [2, 3, 4]
    assert window_days(5, 14) == [0, 1, 2, 3, 4]


@pytest.mark.parametrize(("label", "expected"), [("click", 4), ("complete", 3)])
def test_window_labels(tmp_path: Path, label: str, expected: int) -> None:
    log = sealed_log(tmp_path)
    window = build_window(log, 1, TrainConfig(window_days=7, label=label), 0.8, (4, 10))
    assert window.days == (0,)  # day 1 is being served: only day 0 may be read
    assert window.interactions.shape == (4, 10)
    assert window.interactions.sum() == (2 if label == "click" else 1)
    both = build_window(log, 2, TrainConfig(window_days=7, label=label), 0.8, (4, 10))
    assert both.interactions.sum() == expected
    assert both.data_version == log.data_version([0, 1])


def test_empty_window_before_day_zero(tmp_path: Path) -> None:
    window = build_window(EventLog(tmp_path), 0, TrainConfig(), 0.8, (4, 10))
    assert window.days == () and window.interactions.nnz == 0 and len(window.impressions) == 0
