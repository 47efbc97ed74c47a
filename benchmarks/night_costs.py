"""Two of a night's costs at a chosen size, on a synthetic window: an ALS sweep per thread
count, and writing the model file per zlib level.

The window has ``--nnz`` positives spread over ``--users`` users uniformly and over
``--items`` items by a Zipf(0.8) law (a late 14-day window of the million-user world holds
about 12-15M). The ALS runs alternate thread counts and must give identical factors; the
model file is an ``ALSPolicy`` holding those factors and that window, as the registry
writes it every night. Prints every run, then medians:

    python benchmarks/night_costs.py [--users 1000000] [--items 20000] [--nnz 15000000]
        [--threads 1,2] [--sweeps 2] [--levels 1,6] [--repeats 2]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from unittest import mock

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recloop.policies.factor import ALSConfig, ALSPolicy
from recloop.policies.types import ItemMetadata, TrainingWindow
from recloop.sim.pipeline import artifacts


def synthetic_window(users: int, items: int, nnz: int) -> sp.csr_matrix:
    """Positives, one per (user, item) pair drawn; popular items by a Zipf(0.8) law."""
    rng = np.random.default_rng(0)
    weights = 1.0 / np.arange(1, items + 1) ** 0.8
    cols = rng.choice(items, nnz, p=weights / weights.sum())
    matrix = sp.csr_matrix((np.ones(nnz, np.float32), (rng.integers(0, users, nnz), cols)),
                           shape=(users, items))
    matrix.sum_duplicates()
    return matrix


def fitted(matrix: sp.csr_matrix, threads: int, sweeps: int) -> tuple[ALSPolicy, float]:
    """An ALS policy fitted for ``sweeps`` sweeps on ``threads`` threads; its wall seconds."""
    n_items = matrix.shape[1]
    items = ItemMetadata(np.zeros(n_items, np.int16), np.zeros(n_items, np.int16))
    policy = ALSPolicy(items, np.random.default_rng(1), ALSConfig(iterations=sweeps,
                                                                  threads=threads))
    window = TrainingWindow(day=14, days=tuple(range(14)), interactions=matrix,
                            log=pd.DataFrame(), data_version="synthetic")
    start = time.perf_counter()
    policy.fit(window)
    return policy, time.perf_counter() - start


def time_als(matrix: sp.csr_matrix, threads: list[int], sweeps: int,
             repeats: int) -> ALSPolicy:
    """Seconds per sweep for each thread count; stops if two counts' factors differ."""
    walls: dict[int, list[float]] = {t: [] for t in threads}
    first: ALSPolicy | None = None
    for i in range(repeats):
        for t in threads:
            policy, wall = fitted(matrix, t, sweeps)
            walls[t].append(wall / sweeps)
            print(f"  ALS threads={t} run {i + 1}: {wall / sweeps:.2f} s a sweep", flush=True)
            if first is None:
                first = policy
            elif not np.array_equal(policy.user_factors_, first.user_factors_):
                raise SystemExit(f"threads={t} gave different user factors")
    for t, times in walls.items():
        print(f"ALS threads={t}: {statistics.median(times):.2f} s a sweep (median of {repeats})")
    assert first is not None
    return first


def time_model_file(policy: ALSPolicy, levels: list[int], repeats: int) -> None:
    """Seconds to write and bytes on disk of the nightly model file, per zlib level."""
    with tempfile.TemporaryDirectory() as folder:
        for level in levels:
            walls = []
            for _ in range(repeats):
                with mock.patch.object(artifacts, "ZLIB_LEVEL", level):
                    start = time.perf_counter()
                    path = artifacts.save_model(policy, Path(folder) / "model")
                    walls.append(time.perf_counter() - start)
            size = path.stat().st_size / 2**20
            print(f"model file zlib {level}: {statistics.median(walls):.1f} s, {size:.0f} MiB "
                  f"(median of {repeats})", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--items", type=int, default=20_000)
    parser.add_argument("--nnz", type=int, default=15_000_000)
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--sweeps", type=int, default=2)
    parser.add_argument("--levels", default="1,6")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    matrix = synthetic_window(args.users, args.items, args.nnz)
    print(f"window: {args.users} users x {args.items} items, {matrix.nnz} positives", flush=True)
    policy = time_als(matrix, [int(t) for t in args.threads.split(",")], args.sweeps,
                      args.repeats)
    time_model_file(policy, [int(v) for v in args.levels.split(",")], args.repeats)


if __name__ == "__main__":
    main()
