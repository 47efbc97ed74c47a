"""Products whose rows do not depend on the batch: the ground a sharded day stands on."""

from __future__ import annotations

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from recloop.agents.catalog import CatalogConfig, generate_catalog
from recloop.conf.rowwise import rowwise_product


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_rows_product_does_not_depend_on_the_rows_around_it(dtype: type) -> None:
    """Plain ``rows @ matrix`` fails this here: 35 of 35 cases in single precision, 25 of 35
    in double (OpenBLAS, Haswell-class CPU, one thread)."""
    rng = np.random.default_rng(0)
    rows = rng.standard_normal((700, 32)).astype(dtype)
    matrix = rng.standard_normal((32, 500)).astype(dtype)
    with threadpool_limits(1, "blas"):
        whole = rowwise_product(rows, matrix)
        for size in (1, 2, 3, 7, 25, 100, 299):
            for start in (0, 1, 3, 5, 401):
                part = rowwise_product(rows[start:start + size], matrix)
                np.testing.assert_array_equal(part, whole[start:start + size])
    assert whole.dtype == dtype
    np.testing.assert_allclose(whole, rows @ matrix, rtol=1e-4, atol=1e-4)


def test_a_matrix_widened_once_gives_the_same_bits() -> None:
    """The catalog keeps its vectors widened (``Catalog.vectors_wide``) so an organic search
    need not convert them each time; the utilities must not move by a bit."""
    catalog = generate_catalog(CatalogConfig(n_items=300), np.random.default_rng(1))
    taste = np.random.default_rng(2).standard_normal((9, catalog.vectors.shape[1]))
    taste = taste.astype(np.float32)
    with threadpool_limits(1, "blas"):
        plain = rowwise_product(taste, catalog.vectors.T)
        wide = rowwise_product(taste, catalog.vectors_wide, np.float32)
    assert catalog.vectors_wide.dtype == np.float64 and wide.dtype == np.float32
    np.testing.assert_array_equal(wide.view(np.uint32), plain.view(np.uint32))
