"""One batch of requests answered: slates served, the users' responses, their next state,
their next requests and the plays they bring from outside. Nothing shared is written here
except the server's owed lists (``Served.ranked`` says which), so a batch can be split by
user and answered in parts, even in other processes (``sim/shards.py``); the arm applies
the side effects (log, session ids, tallies) to the whole batch afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recloop.agents.choice import Responses
from recloop.agents.continuation import NextRequests
from recloop.agents.draws import Draws
from recloop.agents.organic import OrganicPlays
from recloop.agents.playable import Unwatched
from recloop.agents.users import (
    Users,
    UserState,
    continue_visit,
    find_organic,
    next_state,
    replay_loved,
    respond,
)
from recloop.policies.base import Policy
from recloop.policies.types import ServeContext
from recloop.sim.retention import retention_slot
from recloop.sim.serving import Served, Server

PURPOSES = ("choice", "continuation", "churn", "organic")  # the users' draws a batch takes


@dataclass(frozen=True)
class Desk:
    """What answering requests reads: the deployed model and its lists, the users' model,
    the service's plays per item and, with retention slots, who is flagged."""

    policy: Policy
    server: Server
    users: Users
    plays: np.ndarray  # int[n_items], as the round began
    flagged: np.ndarray | None  # bool[n_users]: retention slot for these; None: no slots


@dataclass(frozen=True)
class Requests:
    """A batch of requests from distinct users, with their rows and their draws."""

    day: int
    users: np.ndarray
    times: np.ndarray
    starts: np.ndarray  # when each request's visit began
    down: np.ndarray  # bool: the model server is down
    ctx: ServeContext
    before: UserState  # the users' rows
    draws: dict[str, Draws]  # by purpose (``PURPOSES``), a row per request

    def take(self, rows: np.ndarray) -> Requests:
        """Some of the requests (a shard's)."""
        return Requests(self.day, self.users[rows], self.times[rows], self.starts[rows],
                        self.down[rows], self.ctx, self.before.rows(rows),
                        {p: d.take(rows) for p, d in self.draws.items()})


@dataclass(frozen=True)
class Answered:
    """What happened to a batch of requests; ``finds`` and ``replays`` are organic plays
    (None when that behaviour is off), ``next`` the further requests (None: no
    continuation)."""

    served: Served
    responses: Responses
    after: UserState
    next: NextRequests | None
    finds: OrganicPlays | None
    replays: OrganicPlays | None

    def organic(self) -> OrganicPlays | None:
        """New finds, then replays: the order they are logged in."""
        found = [p for p in (self.finds, self.replays) if p is not None]
        return OrganicPlays.concat(found) if found else None


def answer(desk: Desk, req: Requests) -> Answered:
    """Serve the requests; the users respond, maybe ask again, and play from outside."""
    cfg, users = desk.users.cfg, req.users
    served = desk.server.serve(desk.policy, users, req.ctx, req.down)
    if desk.flagged is not None:
        served = retention_slot(served, users, desk.flagged, desk.plays, req.ctx.available,
                                req.ctx.seen)
    items = served.slates.items
    resp = respond(desk.users, req.before, users, items, req.times, req.draws["choice"])
    nxt, ending = None, None
    if cfg.continuation.enabled:
        nxt = continue_visit(desk.users, resp, req.times, req.starts, req.draws["continuation"])
        ending = np.ones(users.size, dtype=bool)
        ending[nxt.rows] = False
    after = next_state(desk.users, req.before, items, req.times, resp, req.draws["churn"],
                       ending)
    finds = replays = None
    if cfg.organic.enabled:
        rows = np.arange(users.size)
        just = np.where(resp.clicked, items[rows, resp.click_position.clip(0)], -1)
        allowed = Unwatched(req.ctx.available, req.ctx.seen, users, just)
        finds = find_organic(desk.users, after, allowed, desk.plays, req.draws["organic"])
    if cfg.rewatch.enabled:
        replays = replay_loved(desk.users, after, req.draws["organic"])
    return Answered(served, resp, after, nxt, finds, replays)
