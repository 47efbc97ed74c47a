"""``distinct`` is ``np.unique`` for integers, whatever their shape, sign, width or repeats."""

from __future__ import annotations

import numpy as np
import pytest

from recloop.conf.distinct import distinct


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.uint16, np.intp])
@pytest.mark.parametrize("size", [0, 1, 2, 17, 5_000])
def test_distinct_is_numpys_unique(dtype: type, size: int) -> None:
    rng = np.random.default_rng(size)
    values = rng.integers(0, max(size // 3, 1), size).astype(dtype)  # many repeats
    got = distinct(values)
    np.testing.assert_array_equal(got, np.unique(values))
    assert got.dtype == values.dtype


def test_distinct_flattens_and_keeps_negative_and_wide_keys() -> None:
    values = np.array([[2**40, -3, 7], [-3, 2**40, 0]], dtype=np.int64)
    np.testing.assert_array_equal(distinct(values), [-3, 0, 7, 2**40])
    assert distinct(values).ndim == 1


def test_distinct_leaves_its_input_alone() -> None:
    values = np.array([3, 1, 3, 2])
    distinct(values)
    np.testing.assert_array_equal(values, [3, 1, 3, 2])
