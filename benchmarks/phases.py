"""Where a run's time goes: exclusive wall time per phase, measured by wrapping methods.

``install()`` wraps the methods that start each phase so that every call adds its wall time,
less the time of wrapped calls nested inside it, to its phase. Nested phases are therefore
counted once: the window read inside a fit is ``reading``, not ``training``. Only benchmarks
call it; a run without it is untouched.

Batch lists are ranked at a user's first request of the day, so ``lists`` is time spent
during the day (and, for hybrid serving, at night); it is reported apart from both.

Only the main thread's calls are timed. Work on a worker thread (``sim/worker.py``: the
early fit, the fidelity sample) overlaps the main thread's phases and is not counted; the
main thread's wait for it is (an early fit's in ``training``, the fidelity result's at
midnight).
"""

from __future__ import annotations

import functools
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from recloop.policies import base, factor, wrappers
from recloop.sim import engine, service, serving, serving_arm
from recloop.sim import window as window_module
from recloop.sim.pipeline import early_fit, judge, nightly

# (owner, method name, phase), outermost first
WRAPPED: list[tuple[Any, str, str]] = [
    (engine.Engine, "night", "night: validation, registry, other"),
    (nightly.NightlyJob, "_fit", "night: training"),
    (early_fit.Ahead, "take", "night: training"),
    (early_fit.Ahead, "wait", "night: training"),
    (base.Policy, "refit", "night: training"),
    (factor.ALSPolicy, "refit", "night: training"),
    (wrappers.Wrapper, "refit", "night: training"),
    (window_module.WindowReader, "window", "night: reading"),
    (window_module.WindowReader, "day_positives", "night: reading"),
    (judge.Judge, "judge", "night: offline judging"),
    (service.Service, "eval_context", "night: offline judging"),
    (serving_arm.ServingArm, "_measure", "night: fidelity sample"),
    (serving.Server, "prepare", "lists"),
    (serving.Server, "_rank_owed", "lists"),
    (engine.Engine, "run_tick", "day: serving and users"),
    (engine.Engine, "close_day", "midnight: metrics and sealing"),
]


class PhaseClock:
    """Exclusive seconds per phase; a stack keeps nested calls out of their callers."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self._nested: list[float] = []  # per open call: time spent in wrapped callees

    def wrap(self, fn: Callable[..., Any], phase: str) -> Callable[..., Any]:
        @functools.wraps(fn)
        def timed(*args: Any, **kwargs: Any) -> Any:
            if threading.current_thread() is not threading.main_thread():
                return fn(*args, **kwargs)  # overlaps the main thread: not a phase of its own
            self._nested.append(0.0)
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                elapsed = time.perf_counter() - start
                inner = self._nested.pop()
                self.seconds[phase] += elapsed - inner
                if self._nested:
                    self._nested[-1] += elapsed
        return timed


def install() -> PhaseClock:
    """Wrap every method in ``WRAPPED`` (defined on its owner itself) with one clock."""
    clock = PhaseClock()
    for owner, name, phase in WRAPPED:
        if name in vars(owner):
            setattr(owner, name, clock.wrap(vars(owner)[name], phase))
    return clock
