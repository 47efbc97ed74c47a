"""Rank a batch's chunks of users on several threads: the same lists, sooner.

A scoring policy ranks a batch in chunks of users (``score_chunk``), every row on its own
(``conf/rowwise.py``), each chunk writing only its own rows of the output, so which thread
ranks which chunk changes no bit. NumPy lets go of the interpreter in the product, the
partitions and the whole-row passes, and a run holds BLAS to one thread (``sim/story.py``),
so two threads keep two cores busy. Only a policy whose ``score`` reads its state and draws
nothing opts in (``ScoringPolicy.ranking_threads``).

The pools live as long as the process, one per thread count, like the workers of
``sim/shards.py``: a batch is ranked thousands of times a run, and starting threads each
time would cost more than small batches gain.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

_pools: dict[int, ThreadPoolExecutor] = {}


def usable_cores() -> int:
    """The cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def run_chunks(rank: Callable[[int], None], count: int, threads: int) -> None:
    """``rank(i)`` for every chunk ``i < count``, on up to ``threads`` threads (0: one per
    core); returns when all are done and raises the first chunk's error, if any."""
    threads = min(threads or usable_cores(), count)
    if threads <= 1:
        for i in range(count):
            rank(i)
        return
    pool = _pools.get(threads)
    if pool is None:
        pool = _pools.setdefault(threads, ThreadPoolExecutor(threads, "recloop-rank"))
    for done in [pool.submit(rank, i) for i in range(count)]:
        done.result()
