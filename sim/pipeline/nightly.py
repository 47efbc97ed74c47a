"""The nightly job: validate → train → evaluate offline → gate → register → deploy.

Before day d the job may use days < d. With the gate on, a candidate is trained on days
< d-1 and it and the production model are evaluated on held-out day d-1 (neither has seen
it). If the candidate holds at least ``gate_ratio`` × the baseline it is deployed, refit on
days < d first when ``refit_after_gate``; otherwise production keeps serving.

The baseline is, by default, a most-popular ranking built from the candidate's own window
and scored on the same held-out day ("popular"): a sanity check that no learned model should
fail and that drifts with the data. Comparing with production itself froze the loop in
every run we tried: re-scoring it on a day it served ("live") favours it because that day's
clicks happened on its own slates (default world, day 2: production NDCG@10 0.84 against
the candidate's 0.68, then no deploy for the rest of the run), and its score at its own gate
("registered") goes stale; once the loop freezes, the data drift makes every later
candidate look worse, so a rolling median of recent candidates ("recent") freezes too. All
remain selectable, to show exactly that. A day that fails validation is quarantined (no window ever reads it) and that
night deploys nothing; a crashed job deploys nothing either. A new model whose first day's
CTR fell more than ``rollback_ctr_drop`` below its predecessor's last day is rolled back.
The gate's candidate may be fitted during the day before its night (``fit_ahead``,
``sim/pipeline/early_fit.py``): the same model, sooner.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from recloop.policies.base import Policy
from recloop.policies.types import TrainingWindow
from recloop.sim.eventlog import EventLog
from recloop.sim.pipeline.config import PipelineConfig
from recloop.sim.pipeline.early_fit import Ahead, Key
from recloop.sim.pipeline.judge import EvalContext, Judge
from recloop.sim.pipeline.registry import Registry
from recloop.sim.pipeline.state import ModelRecord, PipelineState
from recloop.sim.pipeline.validation import Bounds, validate_partition
from recloop.sim.window import TrainConfig, WindowReader, window_days

PolicyFactory = Callable[[int], Policy]  # model version -> fresh, unfitted policy


@dataclass
class NightOutcome:
    """What the night decided."""

    record: ModelRecord
    policy: Policy  # the model serving tomorrow


class NightlyJob:
    """Owns the registry, the quarantine list and the volume history; runs one night at a time."""

    def __init__(self, cfg: PipelineConfig, train: TrainConfig, complete_at: float,
                 log: EventLog, models: Path, state: PipelineState, factory: PolicyFactory,
                 arm: str | None = None, nights: int = 0) -> None:
        """``arm``: train and evaluate on that arm's rows only (None: the whole log).

        ``state`` is what carries over between nights (its random streams included);
        ``models`` holds the artifacts; ``nights``: the run's days, each after a night
        (a candidate is fitted ahead only for a night that comes).
        """
        self.cfg, self.train, self.complete_at = cfg, train, complete_at
        self.arm, self.nights = arm, nights
        self.log, self.factory = log, factory
        self.state = state
        self.registry = Registry(models, state)
        self.windows = WindowReader(log, train, complete_at, arm)
        self.judge = Judge(cfg, train, complete_at, log, self.registry, self.windows)
        self.ahead = Ahead()

    @property
    def quarantined(self) -> set[int]:
        return self.state.quarantined

    def run(self, day: int, shape: tuple[int, int], k: int, eval_ctx: EvalContext,
            crashed: bool, ctr: dict[int, float]) -> NightOutcome:
        """One night before ``day``, then the next night's candidate fitted ahead (when it
        may be). ``ctr`` maps past days to their online CTR."""
        self.ahead.wait()  # a fit in flight still reads the windows
        outcome = self._night(day, shape, k, eval_ctx, crashed, ctr)
        if day + 1 < self.nights:
            self.fit_ahead(day + 1, shape)
        return outcome

    def _night(self, day: int, shape: tuple[int, int], k: int, eval_ctx: EvalContext,
               crashed: bool, ctr: dict[int, float]) -> NightOutcome:
        version = self.registry.next_version()
        problems = self._validate(day - 1, shape, k) if day > 0 else []
        if crashed or problems:
            status = "job_failed" if crashed else "validation_failed"
            return self._keep(ModelRecord(version, day, status, problems=problems))
        rolled = self._rollback(day, version, ctr)
        if rolled is not None:
            return rolled
        return self._train_and_gate(day, version, shape, k, eval_ctx)

    def _train_and_gate(self, day: int, version: int, shape: tuple[int, int], k: int,
                        eval_ctx: EvalContext) -> NightOutcome:
        rec = ModelRecord(version, day, "deployed")
        candidate = self.factory(version)
        gated = self.cfg.gate and self.state.model is not None and day >= 2 \
            and (day - 1) not in self.quarantined
        if gated:
            peek = self.train.leakage == "window"  # the held-out day leaks into training
            if peek:
                window = self._fit(candidate, day, shape)
            else:
                candidate, window = self._judged_candidate(candidate, version, day - 1, shape)
            self._note(rec, window)
            rec.judged_train_days = list(window.days)
            honest = self._window(day - 1, shape) if peek else window  # for the baseline
            self.judge.judge(rec, candidate, honest, day - 1, shape, k, eval_ctx)
        if rec.gate_passed is False:
            rec.status = "rejected"
            return self._keep(rec, candidate if self.cfg.keep_models == "all" else None)
        if not gated:
            self._note(rec, self._fit(candidate, day, shape))
        elif self.cfg.refit_after_gate:
            window = self._window(day, shape)
            candidate.refit(window)
            self._note(rec, window)
        return self._deploy(rec, candidate)

    def _validate(self, day: int, shape: tuple[int, int], k: int) -> list[str]:
        """Check the sealed partition of ``day``; quarantine it when it fails."""
        if not self.cfg.validation.enabled:
            return []
        bounds = Bounds(day, shape[0], shape[1], k)
        try:
            intact = self.log.intact(day)
            table = self.log.table(day)
        except (OSError, pa.ArrowException) as err:  # set it aside; train on the rest
            self.state.quarantined.add(day)
            return [f"unreadable: {str(err).splitlines()[0] if str(err) else type(err).__name__}"]
        if not intact:  # changed since it was sealed: its data_version would lie
            self.state.quarantined.add(day)
            return ["digest mismatch: the partition changed after it was sealed"]
        report = validate_partition(table, bounds, self.state.volumes, self.cfg.validation,
                                    self.log.served.get(day))
        if report.passed:
            self.state.volumes.append(report.rows)
        else:
            self.state.quarantined.add(day)
        return report.problems

    def _rollback(self, day: int, version: int, ctr: dict[int, float]) -> NightOutcome | None:
        """Undo last night's deploy if its first day's CTR dropped too far."""
        reg, limit = self.registry, self.cfg.rollback_ctr_drop
        if limit <= 0 or reg.previous is None or reg.production is None:
            return None
        deployed_night = reg.records[reg.production - 1].night
        if deployed_night != day - 1 or day - 2 not in ctr or day - 1 not in ctr:
            return None
        if ctr[day - 1] >= (1 - limit) * ctr[day - 2]:
            return None
        back = reg.previous
        why = (f"v{reg.production} CTR {ctr[day - 1]:.4f} < (1 - {limit}) x "
               f"{ctr[day - 2]:.4f}; back to v{back}")
        rec = ModelRecord(version, day, "rolled_back", problems=[why])
        self.registry.record(rec)
        self.registry.promote(back)
        self.state.model = self.registry.load(back)
        return NightOutcome(rec, self.state.model)

    def fit_ahead(self, night: int, shape: tuple[int, int]) -> None:
        """Start fitting the gate's candidate for the night before day ``night`` now, on a
        worker thread, when that night will judge one on days all sealed already."""
        if not self.cfg.gate or self.train.leakage == "window" or night < 2 \
                or self.state.model is None:
            return
        version = self.registry.next_version()
        candidate, previous = self.factory(version), self.state.model
        if not candidate.fits_apart:
            return
        day = night - 1
        self.ahead.start(self._ahead_key(version, day),
                         lambda: (candidate, self._fit(candidate, day, shape, previous)))

    def _judged_candidate(self, candidate: Policy, version: int, day: int,
                          shape: tuple[int, int]) -> tuple[Policy, TrainingWindow]:
        """The gate's candidate fitted on days < ``day``, and its window: the one fitted
        ahead when it was fitted for this night, else ``candidate`` fitted now."""
        fitted = self.ahead.take(self._ahead_key(version, day))
        if fitted is not None:
            return fitted
        return candidate, self._fit(candidate, day, shape)

    def _ahead_key(self, version: int, day: int) -> Key:
        """What makes a candidate fitted on days < ``day`` the one a night would fit."""
        days = window_days(day, self.train.window_days, self.quarantined)
        return (version, tuple(days), self.log.data_version(days, self.arm),
                self.registry.production)

    def _fit(self, policy: Policy, day: int, shape: tuple[int, int],
             previous: Policy | None = None) -> TrainingWindow:
        """Fit ``policy`` on days < ``day``, starting from ``previous`` (production)."""
        window = self._window(day, shape)
        policy.fit_from(previous or self.state.model, window)
        return window

    def _window(self, day: int, shape: tuple[int, int]) -> TrainingWindow:
        return self.windows.window(day, shape, self.quarantined)

    @staticmethod
    def _note(rec: ModelRecord, window: TrainingWindow) -> None:
        rec.data_version, rec.train_days = window.data_version, list(window.days)

    def _deploy(self, rec: ModelRecord, candidate: Policy) -> NightOutcome:
        self.registry.record(rec, candidate if self.cfg.keep_models != "none" else None)
        self.registry.promote(rec.version)
        self.state.model = candidate
        return NightOutcome(rec, candidate)

    def _keep(self, rec: ModelRecord, candidate: Policy | None = None) -> NightOutcome:
        """Record a night that changes nothing (with the rejected ``candidate``'s artifact
        when it is kept): production keeps serving."""
        self.registry.record(rec, candidate)
        assert self.state.model is not None, "the first night must deploy a model"
        return NightOutcome(rec, self.state.model)
