"""What ranking a batch list costs per user: ALS ``candidates`` on a synthetic late state.

The model has random factors (a quarter of the users cold, with zero factors, as users the
window has not seen), a Zipf popularity prior, and a watched matrix with the default world's
per-user counts after 30 days (``benchmarks/watched.py``). Users are ranked on one thread
with BLAS held to one thread, so the figure is a core's cost; a run ranks on every core.
Prints the median microseconds per user over the repeats:

    python benchmarks/lists.py                                  # 200k users x 20k items
    python benchmarks/lists.py --users 100000 --items 10000 --repeats 9
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
from threadpoolctl import threadpool_limits
from watched import late_state

from recloop.policies import base
from recloop.policies.factor import ALSConfig, ALSPolicy
from recloop.policies.types import ItemMetadata, ServeContext
from recloop.policies.watched import watched_matrix

COLD_SHARE = 0.25  # users a late 14-day window of the million-user world has not seen


def synthetic_model(users: int, items: int, rng: np.random.Generator) -> ALSPolicy:
    """An ALS policy with random factors and a Zipf popularity prior (nothing fitted)."""
    catalog = ItemMetadata(genre=np.zeros(items, np.int16), release_day=np.zeros(items, np.int16))
    policy = ALSPolicy(catalog, np.random.default_rng(1), ALSConfig(threads=1))
    policy.user_factors_ = rng.normal(0, 0.3, (users, 32)).astype(np.float32)
    policy.user_factors_[rng.random(users) < COLD_SHARE] = 0.0
    policy.item_factors_ = rng.normal(0, 0.3, (items, 32)).astype(np.float32)
    plays = rng.zipf(1.5, items).clip(max=1_000)
    policy.popularity_ = (plays / plays.max()).astype(np.float32)
    return policy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=200_000)
    parser.add_argument("--items", type=int, default=20_000)
    parser.add_argument("--ranked", type=int, default=10_000, help="users ranked per repeat")
    parser.add_argument("--length", type=int, default=20, help="list length (k + spare)")
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    policy = synthetic_model(args.users, args.items, rng)
    seen = watched_matrix(args.users, args.items)
    seen[late_state(args.users, args.items, rng)] = True
    ctx = ServeContext(day=20, hour=0.0, available=np.ones(args.items, bool), seen=seen)
    users = np.sort(rng.choice(args.users, args.ranked, replace=False))
    times = []
    with threadpool_limits(1, "blas"):
        for _ in range(args.repeats):
            start = time.perf_counter()
            policy.candidates(users, args.length, ctx)
            times.append(time.perf_counter() - start)
    per_user = [1e6 * t / users.size for t in times]
    print(f"{args.users:,} users x {args.items:,} items, {type(seen).__name__}: "
          f"{statistics.median(per_user):.1f} us a user (runs: "
          f"{', '.join(f'{t:.1f}' for t in per_user)}), chunks of {base.score_chunk(args.items)}")


if __name__ == "__main__":
    main()
