"""Work handed to a worker thread while the main thread goes on with the day.

The day's sessions are many small array operations that keep the interpreter busy on one
core; a nightly fit or a fidelity measurement is long compiled work that mostly runs without
holding it, so on two cores the two overlap. Work handed over reads only what nothing
changes meanwhile (copies, snapshots, sealed partitions): its result never depends on
when it ran.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

from threadpoolctl import threadpool_limits

T = TypeVar("T")
WORKER_THREADS = 1  # OpenMP threads of the work: the day's sessions keep the other core


def on_worker(work: Callable[[], T]) -> Future[T]:
    """``work`` running on a thread of its own; its result (or error) is the future's."""
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="recloop-worker")
    future = pool.submit(_with_one_thread, work)
    pool.shutdown(wait=False)
    return future


def _with_one_thread(work: Callable[[], T]) -> T:
    with threadpool_limits(WORKER_THREADS, "openmp"):
        return work()
