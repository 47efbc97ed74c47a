"""Shadow mode: a candidate policy answers every request, but nobody sees its slates.

The shadow has its own nightly job (trained on the production log, offline-evaluated and
gated like any candidate) and its own serving lists. Each request it ranks is written to a
separate log, ``shadow_log/``, never read by any training window, and compared with what
production actually served: how much the two slates overlap, whether they lead with the
same item, and whether the item the user clicked was in the shadow's slate at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from policies.base import Policy
from policies.types import ServeContext
from sim.eventlog import EventLog
from sim.pipeline.nightly import EvalContext, NightlyJob
from sim.pipeline.registry import ModelRecord
from sim.serving import Server

SHADOW = "shadow"  # the arm label of its log rows and metric rows


@dataclass
class Agreement:
    """One day's running sums of shadow-versus-production agreement."""

    sessions: int = 0
    overlap: float = 0.0  # sum over sessions of |shadow ∩ served| / k
    same_top: int = 0
    clicks: int = 0
    click_in_shadow: int = 0

    def add(self, shadow: np.ndarray, served: np.ndarray, clicked_item: np.ndarray) -> None:
        """Slates are n × k (-1 empty); ``clicked_item`` is -1 for sessions without a click."""
        common = (shadow[:, :, None] == served[:, None, :]) & (shadow[:, :, None] >= 0)
        self.sessions += shadow.shape[0]
        self.overlap += float(common.any(axis=2).sum(axis=1).sum() / shadow.shape[1])
        self.same_top += int((shadow[:, 0] == served[:, 0]).sum())
        clicked = clicked_item >= 0
        self.clicks += int(clicked.sum())
        self.click_in_shadow += int((shadow[clicked] == clicked_item[clicked, None]).any(axis=1).sum())

    def metrics(self) -> dict[str, float]:
        nan = float("nan")
        return {
            "agreement_overlap": self.overlap / self.sessions if self.sessions else nan,
            "agreement_top1": self.same_top / self.sessions if self.sessions else nan,
            "clicked_item_in_shadow": self.click_in_shadow / self.clicks if self.clicks else nan,
        }


class Shadow:
    """The shadow candidate: its pipeline, its lists, its log and today's agreement."""

    def __init__(self, job: NightlyJob, server: Server, run_dir: Path) -> None:
        self.job, self.server = job, server
        self.log = EventLog(Path(run_dir) / "shadow_log")
        self.policy: Policy | None = None
        self.agreement = Agreement()
        self.record: ModelRecord | None = None

    def start_day(self, day: int, shape: tuple[int, int], k: int, eval_ctx: EvalContext,
                  crashed: bool, users: np.ndarray, ctx: ServeContext,
                  popularity: np.ndarray) -> None:
        """Its own night: train, evaluate, gate, then rank tomorrow's lists."""
        night = self.job.run(day, shape, k, eval_ctx, crashed, {})
        self.policy, self.record = night.policy, night.record
        if night.record.status != "job_failed":
            self.server.prepare(self.policy, users, ctx, popularity)
        self.agreement = Agreement()

    def observe(self, day: int, users: np.ndarray, times: np.ndarray, sessions: np.ndarray,
                ctx: ServeContext, model_down: np.ndarray, served: np.ndarray,
                clicked_item: np.ndarray) -> None:
        """Rank the same requests production just answered; log and compare, never serve."""
        assert self.policy is not None
        mine = self.server.serve(self.policy, users, ctx, model_down)
        self.agreement.add(mine.slates.items, served, clicked_item)
        row, pos = np.nonzero(mine.slates.items >= 0)
        prop = mine.slates.propensity
        self.log.append(
            {"arm": SHADOW, "policy": self.policy.name},
            day=np.full(row.size, day), time=times[row], user=users[row],
            session=sessions[row], position=pos, item=mine.slates.items[row, pos],
            model_version=np.full(row.size, self.job.registry.production or 0),
            serving_path=mine.path[row],
            propensity=np.full(row.size, np.nan) if prop is None else prop[row, pos],
            clicked=np.zeros(row.size, dtype=bool), completion=np.zeros(row.size),
        )

    def end_day(self, day: int) -> dict[str, float]:
        """Seal its log and return today's agreement (the engine adds the night's record)."""
        self.log.seal(day)
        return self.agreement.metrics()
