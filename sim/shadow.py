"""Shadow mode: an arm that serves nobody. It answers every request, and nobody sees it.

The shadow has its own nightly job (trained on the production log, offline-evaluated and
gated like any candidate) and its own serving lists. Each request it ranks is written to a
separate log, ``shadow_log/``, never read by any training window, and compared with what
production actually served (``sim/metrics/agreement.py``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from recloop.sim.eventlog import EventLog
from recloop.sim.impressions import Source, log_served
from recloop.sim.metrics.agreement import Agreement
from recloop.sim.metrics.catalogue import shadow_values
from recloop.sim.metrics.inputs import ShadowDay
from recloop.sim.pipeline.nightly import NightlyJob
from recloop.sim.rounds import Outcome, Round
from recloop.sim.service import Service
from recloop.sim.serving import Server
from recloop.sim.state import ShadowState

SHADOW = "shadow"  # the arm label of its log rows and metric rows


class ShadowArm:
    """Ranks what the serving arms were asked, logs it aside, measures agreement."""

    name = SHADOW
    reads_pooled_recent = True  # trained on the whole log, it sees everyone's positives

    def __init__(self, service: Service, job: NightlyJob, server: Server, state: ShadowState,
                 run_dir: Path) -> None:
        self.service, self.job, self.server, self.state = service, job, server, state
        self.log = EventLog(Path(run_dir) / "shadow_log")

    def night(self, day: int, crashed: bool) -> None:
        """Its own night: train, evaluate, gate, then rank tomorrow's lists."""
        st, svc = self.state, self.service
        night = self.job.run(day, svc.state.shape, svc.cfg.serving.k, svc.eval_context,
                             crashed, {})
        st.policy, st.night = night.policy, night.record
        if night.record.status != "job_failed":
            popularity = svc.popularity(st.positives_by_day, day, self.job.quarantined)
            self.server.prepare(st.policy, svc.state.users.active_ids(),
                                svc.context(day, 0.0), popularity)
        st.agreement = Agreement()

    def serve(self, rnd: Round) -> Outcome | None:
        """Serves nobody."""
        return None

    def observe(self, outcomes: list[Outcome], rnd: Round) -> None:
        """Rank the same requests production just answered; log and compare, never serve."""
        st = self.state
        assert st.policy is not None
        for out in outcomes:
            mine = self.server.serve(st.policy, out.users, rnd.ctx, out.down)
            st.agreement.add(mine.slates.items, out.served.slates.items, out.clicked_item)
            source = Source(SHADOW, st.policy.name, self.job.registry.production or 0)
            no_click = np.full(out.users.size, -1)
            log_served(self.log, source, rnd.day, out.users, out.times, out.sessions, mine,
                       no_click, np.zeros(out.users.size, dtype=np.float32))

    def close_day(self, day: int) -> dict[str, float]:
        """Seal its log; today's agreement and its night's record as metrics."""
        st = self.state
        self.log.seal(day)
        st.positives_by_day[day] = self.service.item_positives(day, None)
        assert st.night is not None
        return shadow_values(ShadowDay(st.agreement, st.night, self.job.registry.production))
