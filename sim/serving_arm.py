"""A serving arm: its night, its serving and its close of day.

Without an A/B test the run has one serving arm (``cfg.arm``) for everyone; with one, a
control and a treatment arm each serve their own users. An arm's running state is its
``ServingState`` (in ``RunState``); the arm itself holds only the pieces that act on it:
the nightly job and the server.
"""

from __future__ import annotations

from concurrent.futures import Future
from dataclasses import replace

import numpy as np

from recloop.sim.fidelity import measure_later
from recloop.sim.impressions import Source, log_organic, log_served
from recloop.sim.metrics.catalogue import CTR, TOP1_SHARE, arm_values
from recloop.sim.metrics.inputs import ArmDay, Fidelity
from recloop.sim.pipeline.nightly import NightlyJob
from recloop.sim.rounds import Outcome, Round
from recloop.sim.service import Service
from recloop.sim.serving import Server
from recloop.sim.sessions import PURPOSES, Desk, Requests
from recloop.sim.state import ServingState


class ServingArm:
    """Serves its members' requests with its own pipeline's model."""

    def __init__(self, name: str, service: Service, job: NightlyJob, server: Server,
                 state: ServingState, retains: bool = False) -> None:
        """``retains``: flagged users get a retention slot (``sim/retention.py``)."""
        self.name, self.service, self.job, self.server, self.state = (
            name, service, job, server, state)
        self.reads_pooled_recent = job.arm is None  # pooled training: everyone's positives
        self.retains = retains
        self.fidelity: Future[Fidelity] | None = None  # tonight's, until midnight reads it

    def night(self, day: int, crashed: bool) -> None:
        """Train, gate and deploy; then, unless the job crashed, precompute the lists."""
        st, svc = self.state, self.service
        night = self.job.run(day, svc.state.shape, svc.cfg.serving.k, svc.eval_context,
                             crashed, st.ctr)
        st.policy, st.night = night.policy, night.record
        self._apply_epsilon()
        if night.record.status != "job_failed":  # a crashed job leaves yesterday's lists
            active = svc.state.users.active_ids()
            popularity = svc.popularity(st.positives_by_day, day, self.job.quarantined)
            self.server.prepare(st.policy, active[st.members[active]], svc.context(day, 0.0),
                                popularity)
        st.tally = svc.new_tally(st.members)
        self.fidelity = self._measure(day)

    def _measure(self, day: int) -> Future[Fidelity]:
        """The deployed model against ground truth, on the sample's members still active,
        as the day begins: measured on a worker thread from copies, read at midnight."""
        svc, st = self.service, self.state
        users = svc.fidelity_users
        users = users[st.members[users] & svc.state.users.active[users]]
        assert st.policy is not None
        return measure_later(st.policy, users, svc.state.users.taste[users],
                             svc.rows_context(day, users), svc.world, svc.item_value,
                             svc.cfg.serving.k)

    def _apply_epsilon(self) -> None:
        """Adaptive exploration: the controller's epsilon carries across model deploys."""
        if not self.service.cfg.controller.adaptive_epsilon:
            return
        st = self.state
        if not hasattr(st.policy, "epsilon"):
            raise TypeError("controller.adaptive_epsilon needs policy.epsilon > 0 (an explorer)")
        if st.epsilon is None:
            st.epsilon = float(st.policy.epsilon)
        st.policy.epsilon = st.epsilon

    def serve(self, rnd: Round) -> Outcome | None:
        """Serve the members among the round's users (in shards, ``sim/shards.py``); they
        respond and move on. Then the side effects, on the whole batch in its order: the
        log, session ids, requests counted, the tally."""
        st, svc = self.state, self.service
        mine = st.members[rnd.users]
        if not mine.any():
            return None
        users = rnd.users[mine]
        ctx = rnd.ctx if self.reads_pooled_recent else replace(
            rnd.ctx, recent=svc.recent(st.members))
        assert st.policy is not None
        req = Requests(rnd.day, users, rnd.times[mine], rnd.starts[mine], rnd.down[mine], ctx,
                       svc.state.users.rows(users),
                       {p: svc.draws(p, rnd.day, users) for p in PURPOSES})
        desk = Desk(st.policy, self.server, svc.users, svc.state.plays,
                    svc.state.at_risk if self.retains else None)
        done = rnd.shards.answer(desk, req)
        st.ever_served[users] = True
        sessions = svc.session_ids(users.size)
        source = Source(self.name, st.policy.name, self.job.registry.production or 0)
        log_served(svc.log, source, rnd.day, users, req.times, sessions, done.served,
                   done.responses.click_position, done.responses.completion)
        organic = done.organic()
        if organic is not None:
            players = users[organic.rows]
            log_organic(svc.log, self.name, rnd.day, players, req.times[organic.rows],
                        svc.session_ids(players.size), organic)
        svc.state.requests_today[users] += 1
        outcome = Outcome(self.name, users, req.times, sessions, req.down, done.served,
                          done.responses, done.after, organic, done.next, req.starts)
        self._tally(outcome, req.before.churned, rnd.first[mine])
        return outcome

    def _tally(self, outcome: Outcome, churned_before: np.ndarray, opens: np.ndarray) -> None:
        """Count the sessions, and the users they made leave, in today's tally."""
        svc, resp = self.service, outcome.responses
        completed = resp.clicked & (resp.completion >= svc.cfg.complete_at)
        rows = np.arange(outcome.users.size)
        utility = resp.utility[rows, resp.click_position.clip(0)]
        self.state.tally.add_sessions(outcome.users, outcome.served.slates.items,
                                      outcome.served.path, resp.clicked, completed, utility,
                                      svc.world.catalog.genre, watched=resp.completion,
                                      visits=opens)
        left = outcome.after.churned & ~churned_before
        self.state.tally.add_churn(svc.users.segments(outcome.users[left]))
        if outcome.organic is not None:
            self.state.tally.add_organic(outcome.organic.items.size,
                                         float(outcome.organic.utility.sum()))

    def observe(self, outcomes: list[Outcome], rnd: Round) -> None:
        """A serving arm acts on its own outcome only."""

    def close_day(self, day: int) -> dict[str, float]:
        """Midnight: the day's metrics; remember what the controller and the lists need."""
        st, svc = self.state, self.service
        catalog = svc.world.catalog
        st.never_shown &= st.tally.impressions == 0
        if self.fidelity is not None:
            st.fidelity, self.fidelity = self.fidelity.result(), None
        assert st.night is not None
        values = arm_values(ArmDay(
            day, st.tally, catalog.available(day), svc.item_value, st.never_shown,
            catalog.release_day, int((st.members & svc.state.users.joined).sum()),
            svc.outages.hours_down(24.0 * day, 24.0 * (day + 1)), st.night,
            self.job.registry.production, st.epsilon, st.fidelity))
        st.ctr[day] = values[CTR]
        st.last_top1_share = values[TOP1_SHARE]
        st.positives_by_day[day] = svc.item_positives(day, self.job.arm)
        return values
