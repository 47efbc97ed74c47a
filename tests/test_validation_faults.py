"""Nightly data checks and fault schedules, on hand-built inputs."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from recloop.sim.eventlog import SCHEMA, SERVING_PATHS
from recloop.sim.faults import FaultConfig, draw_failed_nights, draw_outages, merge
from recloop.sim.pipeline.validation import Bounds, ValidationConfig, validate_partition

BOUNDS = Bounds(day=3, n_users=10, n_items=20, k=5)


def day_table(n: int = 40, **changes: np.ndarray) -> pa.Table:
    """A clean day: n impressions, 8 sessions of 5, one click in each even session."""
    session = np.arange(n) // 5
    position = np.arange(n) % 5
    clicked = (position == 0) & (session % 2 == 0)
    cols = {
        "day": np.full(n, 3, np.int16), "time": np.full(n, 75.0, np.float32),
        "user": (session % 10).astype(np.int32), "session": session.astype(np.int64),
        "position": position.astype(np.int16), "item": (np.arange(n) % 20).astype(np.int32),
        "model_version": np.full(n, 2, np.int32), "propensity": np.ones(n, np.float32),
        "clicked": clicked, "completion": np.where(clicked, 0.9, 0.0).astype(np.float32),
    }
    cols.update(changes)
    arrays = []
    for f in SCHEMA:
        if pa.types.is_dictionary(f.type):
            labels = SERVING_PATHS if f.name == "serving_path" else ("x",)
            arrays.append(pa.DictionaryArray.from_arrays(pa.array(np.zeros(n, np.int8)),
                                                         pa.array(labels)))
        else:
            arrays.append(pa.array(cols[f.name], f.type))
    return pa.Table.from_arrays(arrays, schema=SCHEMA)


def test_clean_day_passes() -> None:
    assert validate_partition(day_table(), BOUNDS, [40, 42], ValidationConfig()).passed


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"item": np.full(40, 25, np.int32)}, "range: item"),
        ({"day": np.full(40, 2, np.int16)}, "range: day"),
        ({"completion": np.full(40, 0.5, np.float32)}, "completion without click"),
        ({"clicked": np.arange(40) % 5 < 2}, "sessions with several clicks"),
        ({"position": np.full(40, 7, np.int16)}, "range: position"),
    ],
)
def test_bad_values_are_named(changes: dict[str, np.ndarray], problem: str) -> None:
    report = validate_partition(day_table(**changes), BOUNDS, [], ValidationConfig())
    assert not report.passed and any(problem in p for p in report.problems), report.problems


def test_volume_against_trailing_mean() -> None:
    cfg = ValidationConfig(volume_low=0.5, volume_high=2.0)
    assert not validate_partition(day_table(), BOUNDS, [100, 100], cfg).passed  # 40 < 50
    assert validate_partition(day_table(), BOUNDS, [60, 100], cfg).passed  # 40 >= 40
    assert not validate_partition(day_table(), BOUNDS, [10, 10], cfg).passed  # 40 > 20


def test_rows_against_what_serving_counted() -> None:
    """40 rows of 50 served is 20% lost: the limit fails it, 45 served (11%) passes; with no
    trailing history the trailing-mean check would have passed both."""
    cfg = ValidationConfig(max_loss=0.2)
    lossy = validate_partition(day_table(), BOUNDS, [], cfg, served=50)
    assert lossy.problems == ["volume: 40 rows of 50 served (20% lost; allowed under 20%)"]
    assert validate_partition(day_table(), BOUNDS, [], cfg, served=45).passed
    assert validate_partition(day_table(), BOUNDS, [], cfg, served=None).passed


def test_schema_change_and_nulls() -> None:
    table = day_table().drop_columns(["propensity"])
    report = validate_partition(table, BOUNDS, [], ValidationConfig())
    assert report.problems and "missing ['propensity']" in report.problems[0]
    users = pa.array(np.r_[np.full(10, None), np.arange(30) % 10], pa.int32())
    nulls = day_table().set_column(2, "user", users)
    report = validate_partition(nulls, BOUNDS, [], ValidationConfig(max_null_rate=0.1))
    assert any("nulls: user 25.0%" in p for p in report.problems)


def test_merge_and_lookup() -> None:
    out = merge(np.array([1.0, 2.0, 5.0, 6.5]), np.array([3.0, 2.5, 7.0, 6.8]))
    assert out.start.tolist() == [1.0, 5.0] and out.end.tolist() == [3.0, 7.0]
    assert out.down(np.array([0.5, 1.0, 2.9, 3.0, 5.5, 7.0])).tolist() == [
        False, True, True, False, True, False]
    assert out.hours_down(0, 24) == 4.0 and out.hours_down(2, 6) == 2.0


def test_outage_count_matches_rate() -> None:
    """Outage starts are Poisson(rate × days); merged counts can only be lower. 4 SE."""
    rng = np.random.default_rng(5)
    cfg = FaultConfig(outage_rate=2.0, outage_hours=0.01)  # short: merges are rare
    counts = [draw_outages(cfg, 30, rng).start.size for _ in range(400)]
    assert abs(np.mean(counts) - 60) < 4 * np.sqrt(60 / 400)


def test_failed_nights_include_listed_and_never_night_zero() -> None:
    rng = np.random.default_rng(6)
    nights = draw_failed_nights(FaultConfig(nightly_failure_rate=1.0, failed_nights=[4]), 10, rng)
    assert nights == set(range(1, 10))
    assert draw_failed_nights(FaultConfig(failed_nights=[4]), 10, rng) == {4}
