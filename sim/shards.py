"""The day's work split by user: each round's requests answered in K shards, in worker
threads or processes (joblib), and put back together in the round's order.

A user's session depends on their own rows, their own keyed draws and what the round
began with (the model, the lists, the watched matrix, the plays per item), never on who
else is in the batch. So the round splits by ``user % K``; each shard is answered on its
own (``sim/sessions.py``); the answers are scattered back into the round's row order, and
everything after (session ids, log rows, tallies, the world's next state) runs on the
whole round as it does unsharded. The result is byte-identical for every K.

What that needs of a run (``sharding_allowed`` in ``sim/checks.py``): the users' draws keyed per user
(``common_random_numbers=true``; component streams hand out numbers in batch order);
policies with no per-request draws (no ``random`` policy, ``epsilon`` 0); organic finds
by ``scan`` (the rejection sampler's proposal bound is the batch's largest taste).

Rounds are the barrier: users affect each other within a day through the plays per item
(organic finds weigh them) and today's positives (real-time serving reads them), both
updated between rounds. Worker processes get what a shard reads with every round; with
the state resident in persistent workers (Ray actors, one per shard) only the round's
requests and those two would travel.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import fields, is_dataclass, replace
from typing import Any, TypeVar

import numpy as np
from joblib import Parallel, delayed, parallel_config

from recloop.agents.continuation import NextRequests
from recloop.agents.organic import OrganicPlays
from recloop.sim.config import ShardConfig
from recloop.sim.sessions import Answered, Desk, Requests, answer

T = TypeVar("T")
BACKENDS = {"threads": "threading", "processes": "loky"}


def shard_rows(users: np.ndarray, n: int) -> list[np.ndarray]:
    """The round's rows of each shard (user id modulo ``n``), in round order; empty shards
    left out."""
    shard = users % n
    parts = [np.flatnonzero(shard == s) for s in range(n)]
    return [rows for rows in parts if rows.size]


def scatter(parts: list[tuple[np.ndarray, T]], n: int) -> T:
    """One batch's value from its parts' values: ``parts`` holds (the batch rows a part
    covers, its value), where a value is an array with a row per request, None, or a
    dataclass of such values (nested)."""
    first = parts[0][1]
    if first is None:
        return first
    if isinstance(first, np.ndarray):
        out = np.empty((n, *first.shape[1:]), dtype=first.dtype)
        for rows, value in parts:
            out[rows] = value
        return out  # type: ignore[return-value]
    if not is_dataclass(first):
        raise TypeError(f"cannot scatter a {type(first).__name__}")
    return replace(first, **{  # type: ignore[type-var]
        f.name: scatter([(rows, getattr(v, f.name)) for rows, v in parts], n)
        for f in fields(first) if f.init})


def gather_plays(parts: list[tuple[np.ndarray, OrganicPlays | None]]) -> OrganicPlays | None:
    """A batch's organic plays from its parts' (their ``rows`` index the part), in batch
    row order as one batch's would be."""
    plays = [replace(p, rows=rows[p.rows]) for rows, p in parts if p is not None]
    if not plays:
        return None
    merged = OrganicPlays.concat(plays)
    order = np.argsort(merged.rows, kind="stable")
    return OrganicPlays(merged.rows[order], merged.items[order], merged.completion[order],
                        merged.utility[order])


def merge(parts: list[tuple[np.ndarray, Answered]], n: int) -> Answered:
    """The round's answer from its shards' answers."""
    served = scatter([(rows, replace(a.served, ranked=None)) for rows, a in parts], n)
    nxt = None
    if parts[0][1].next is not None:
        nxt = gather_next([(rows, a.next) for rows, a in parts])
    return Answered(served, scatter([(rows, a.responses) for rows, a in parts], n),
                    scatter([(rows, a.after) for rows, a in parts], n), nxt,
                    gather_plays([(rows, a.finds) for rows, a in parts]),
                    gather_plays([(rows, a.replays) for rows, a in parts]))


def gather_next(parts: list[tuple[np.ndarray, NextRequests]]) -> NextRequests:
    """Further requests from the parts', in batch row order."""
    rows = np.concatenate([idx[p.rows] for idx, p in parts])
    times = np.concatenate([p.times for _, p in parts])
    order = np.argsort(rows, kind="stable")
    return replace(parts[0][1], rows=rows[order], times=times[order])


class Shards:
    """Answers rounds in ``cfg.n`` shards; one shard answers in the calling thread."""

    def __init__(self, cfg: ShardConfig, pool: Parallel | None = None) -> None:
        self.n, self.pool = cfg.n, pool

    def __getstate__(self) -> dict[str, Any]:
        """A checkpoint keeps the count, not the workers (a resumed run starts its own)."""
        return {"n": self.n, "pool": None}

    def answer(self, desk: Desk, req: Requests) -> Answered:
        if self.n == 1 or self.pool is None:
            return answer(desk, req)
        rows = shard_rows(req.users, self.n)
        answers = self.pool(delayed(answer)(desk, req.take(r)) for r in rows)
        for a in answers:  # worker processes ranked owed lists on their own copies
            if a.served.ranked is not None:
                desk.server.keep(a.served.ranked)
        return merge(list(zip(rows, answers, strict=True)), req.users.size)


@contextmanager
def shard_pool(cfg: ShardConfig) -> Iterator[Shards]:
    """Shards whose workers live as long as the block (one pool for the whole run)."""
    if cfg.n == 1:
        yield Shards(cfg)
        return
    inner = {"inner_max_num_threads": 1} if cfg.workers == "processes" else {}  # one BLAS thread
    with parallel_config(BACKENDS[cfg.workers], **inner), Parallel(n_jobs=cfg.n) as pool:
        yield Shards(cfg, pool)
