"""Memory and speed of the two watched matrices on a synthetic late-run state.

Each user gets as many watched titles as a user of the default world had after 30 days
(drawn from that run's quantiles: mean 39, median 31, 90th percentile 83), titles
uniform over the catalog. Prints each matrix's resident bytes and the median time of the
operations the run makes: a chunk's rows (what scoring masks with), a round's pair
lookups (what serving drops watched titles with) and a round's new watches.

    python benchmarks/watched.py                          # 1M users x 20k items
    python benchmarks/watched.py --users 100000 --items 10000
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np

from recloop.policies.bits import BitMatrix
from recloop.policies.watched import WatchLists

# watched titles per user after 30 days of the default world (the 10,654 users who watched
# any): their quantiles at every 5% to 95%, then at 97%, 99%, 99.9% and the most
AT = [*range(0, 96, 5), 97, 99, 99.9, 100]
QUANTILES = [1, 4, 7, 10, 13, 15, 18, 21, 24, 27, 31, 34, 38, 43, 48, 53, 60, 69, 83, 102,
             121, 159, 267, 469]


def late_state(users: int, items: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(user, item) pairs: per-user counts interpolated from the quantiles above."""
    counts = np.interp(100 * rng.random(users), AT, QUANTILES).astype(np.int64)
    counts = np.minimum(counts, items)
    who = np.repeat(np.arange(users), counts)
    return who, rng.integers(0, items, who.size)


def median_ms(work: Callable[[], object], repeats: int = 7) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--items", type=int, default=20_000)
    parser.add_argument("--round", type=int, default=2_600, help="sessions in a round")
    parser.add_argument("--width", type=int, default=50, help="titles looked up per session")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    who, what = late_state(args.users, args.items, rng)
    print(f"{args.users:,} users x {args.items:,} items, {who.size:,} watched pairs")
    chunk = rng.integers(0, args.users, 128)
    asked = np.repeat(rng.integers(0, args.users, args.round), args.width)
    titles = rng.integers(0, args.items, asked.size)
    clicks = [(rng.integers(0, args.users, args.round), rng.integers(0, args.items, args.round))
              for _ in range(7)]
    for kind in (BitMatrix, WatchLists):
        start = time.perf_counter()
        matrix = kind(args.users, args.items)
        matrix[who, what] = True
        built = time.perf_counter() - start
        fresh = iter(clicks)
        print(f"{kind.__name__:<10} {matrix.nbytes / 2**30:6.2f} GiB (built in {built:.1f} s); "
              f"rows of 128 users {median_ms(lambda m=matrix: m[chunk]):6.2f} ms; "
              f"{asked.size:,} pairs {median_ms(lambda m=matrix: m[asked, titles]):6.2f} ms; "
              f"{args.round:,} new watches "
              f"{median_ms(lambda m=matrix, f=fresh: m.__setitem__(next(f), True)):6.2f} ms")
        del matrix


if __name__ == "__main__":
    main()
