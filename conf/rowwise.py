"""Matrix products whose rows do not depend on the batch around them.

A user's numbers must be the same whichever users share their batch: that is what lets a
day's work be split by user (``sim/shards.py``) with byte-identical results. BLAS does not
promise that. Measured with OpenBLAS on a Haswell-class CPU: in single precision a row's
last bits depend on its position in the batch (the kernel works on blocks of 24 rows); in
double precision only rows left over at an odd end go through an edge kernel that differs.
So the product is taken in double precision on rows padded to a multiple of ``ROW_BLOCK``,
then rounded back to the inputs' precision.

Why here: the users' model (``agents/``) and the policies both take such products, and
neither may import the other; ``conf`` is the one package both already build on.
"""

from __future__ import annotations

import numpy as np

ROW_BLOCK = 8  # pad to whole blocks: every real row goes through the main kernel


def rowwise_product(rows: np.ndarray, matrix: np.ndarray,
                    dtype: np.dtype | type | None = None) -> np.ndarray:
    """``rows @ matrix``, each output row the same bits whatever else ``rows`` holds, in
    ``dtype`` (default: the inputs' precision). A caller that keeps ``matrix`` widened to
    float64 across calls passes the precision it wants back."""
    n = rows.shape[0]
    padded = np.zeros((n + -n % ROW_BLOCK, rows.shape[1]), dtype=np.float64)
    padded[:n] = rows
    product = padded @ matrix.astype(np.float64, copy=False)
    return product[:n].astype(dtype or np.result_type(rows, matrix), copy=False)
