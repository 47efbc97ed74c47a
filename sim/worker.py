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

import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import TypeVar

T = TypeVar("T")


def on_worker(work: Callable[[], T]) -> Future[T]:
    """``work`` running on a thread of its own; its result (or error) is the future's.

    A daemon thread: an interrupted run exits at once instead of waiting for a fit it will
    never use (minutes at a million users). The work writes no file, so nothing is left
    half-written.
    """
    future: Future[T] = Future()

    def run() -> None:
        future.set_running_or_notify_cancel()
        try:
            future.set_result(work())
        except BaseException as err:  # noqa: BLE001 - handed to whoever reads the result
            future.set_exception(err)

    threading.Thread(target=run, name="recloop-worker", daemon=True).start()
    return future
