"""Work handed to a worker thread while the main thread goes on with the day.

The day's sessions are many small array operations that keep the interpreter busy on one
core; a nightly fit or a fidelity measurement is long compiled work that mostly runs without
holding it, so on two cores the two overlap. Work handed over reads only what nothing
changes meanwhile (copies, snapshots, sealed partitions): its result never depends on
when it ran.

The work keeps its own thread count (ALS: one OpenMP thread per core). While the day runs
the threads share the cores with it; once the night waits for the result they have them to
themselves. Measured in the default world (medians of 3 interleaved runs): 49.2 s with the
work held to one thread against 50.3 s with one per core, the same within noise; one thread
would make a night whose fit outlasts the day (a million users) wait on a single core.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")


def on_worker(work: Callable[[], T]) -> Future[T]:
    """``work`` running on a thread of its own; its result (or error) is the future's."""
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="recloop-worker")
    future = pool.submit(work)
    pool.shutdown(wait=False)
    return future
