"""A gated candidate fitted while the day before its night still runs.

With the gate on, the candidate of the night before day d trains on days < d-1 and is
judged on day d-1. Those days are all sealed when day d-1 begins, so its fit can start then,
on a worker thread beside the day's sessions: the sessions keep the main thread busy with
small array operations, while ALS and BPR fit in compiled code that does not hold the
interpreter. The night takes the fitted candidate when it is still the one it would fit
(``NightlyJob._ahead_key``: the same version, window days, data version and model to start
from); anything else (a rollback, a crashed or failed night) makes it fit as before.

Only policies that declare ``fits_apart`` are fitted ahead: their fit reads nothing but the
window and the model serving now, draws only from the candidate's own stream and gives the
same factors on any number of threads. The night's model is the same either way; only when
the work happens moves.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from recloop.sim.worker import on_worker

Key = tuple[Any, ...]


class Ahead:
    """At most one fit in flight, with the key of the night it was fitted for."""

    def __init__(self) -> None:
        self._key: Key | None = None
        self._future: Future[Any] | None = None

    def start(self, key: Key, fit: Callable[[], Any]) -> None:
        """Run ``fit`` on a worker thread for the night ``key`` describes."""
        self.wait()
        self._key, self._future = key, on_worker(fit)

    def take(self, key: Key) -> Any | None:
        """What was fitted for ``key`` (after waiting for it), or None: nothing was fitted
        ahead, or it was fitted for another night. A fit that raised raises here when it
        was for this night."""
        future, started = self._future, self._key
        self._future = self._key = None
        if future is None or started != key:
            if future is not None:
                future.exception()  # wait; the night fits again and meets any error itself
            return None
        return future.result()

    def wait(self) -> None:
        """Let a fit in flight finish (it may still write a window reader's cache)."""
        if self._future is not None:
            self._future.exception()

    def __getstate__(self) -> dict[str, Any]:
        """A checkpoint holds no thread: a resumed night fits its candidate anew, to the
        same model (its stream is keyed by version)."""
        self.wait()
        return {"_key": None, "_future": None}

