"""The day's work split by user: each round's requests answered in K shards, in worker
threads or processes (loky's reusable pool), and put back together in the round's order.

A user's session depends on their own rows, their own keyed draws and what the round
began with (the model, the lists, the watched matrix, the plays per item), never on who
else is in the batch. So the round splits by ``user % K``; each shard is answered on its
own (``sim/sessions.py``); the answers are scattered back into the round's row order, and
everything after (session ids, log rows, tallies, the world's next state) runs on the
whole round as it does unsharded. The result is byte-identical for every K.

What that needs of a run (``sharding_allowed`` in ``sim/cross_checks.py``): the users'
draws keyed per user (``common_random_numbers=true``; component streams hand out numbers
in batch order); policies with no per-request draws (no ``random`` policy, ``epsilon``
0); organic finds by ``scan`` (the rejection sampler's proposal bound is the batch's
largest taste).

Rounds are the barrier: users affect each other within a day through the plays per item
(organic finds weigh them) and today's positives (real-time serving reads them), both
updated between rounds. Worker processes get what a shard reads with every round; with
the state resident in persistent workers (Ray actors, one per shard) only the round's
requests and those two would travel.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import Executor, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import fields, is_dataclass, replace
from typing import Any, TypeVar

import numpy as np
from joblib.externals.loky import get_reusable_executor

from recloop.agents.continuation import NextRequests
from recloop.agents.organic import OrganicPlays
from recloop.sim.config import ShardConfig
from recloop.sim.sessions import Answered, Desk, Requests, answer

T = TypeVar("T")
ONE_BLAS_THREAD = {v: "1" for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}


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
    """Answers rounds in ``cfg.n`` shards: the first in the calling thread, the others in
    the pool's workers (``n - 1`` of them)."""

    def __init__(self, cfg: ShardConfig, pool: Executor | None = None) -> None:
        self.n, self.min_requests, self.pool = cfg.n, cfg.min_requests, pool

    def __getstate__(self) -> dict[str, Any]:
        """A checkpoint keeps the settings, not the workers (a resumed run starts its own)."""
        return {**self.__dict__, "pool": None}

    def answer(self, desk: Desk, req: Requests) -> Answered:
        if self.pool is None or req.users.size < self.min_requests:
            return answer(desk, req)
        rows = shard_rows(req.users, self.n)
        pending = [self.pool.submit(answer, desk, req.take(r)) for r in rows[1:]]
        answers = [answer(desk, req.take(rows[0]))] + [p.result() for p in pending]
        for a in answers:  # worker processes ranked owed lists on their own copies
            if a.served.ranked is not None:
                desk.server.keep(a.served.ranked)
        return merge(list(zip(rows, answers, strict=True)), req.users.size)


@contextmanager
def shard_pool(cfg: ShardConfig) -> Iterator[Shards]:
    """Shards whose workers live as long as the block (one pool for the whole run).

    Executors, not ``joblib.Parallel``: its result loop polls every 10 ms, which is longer
    than a round takes (measured: two threads ran the default world at half the speed of
    one, the main thread asleep in the poll)."""
    if cfg.n == 1:
        yield Shards(cfg)
        return
    if cfg.workers == "threads":
        with ThreadPoolExecutor(max_workers=cfg.n - 1) as threads:
            yield Shards(cfg, threads)
        return
    processes = get_reusable_executor(max_workers=cfg.n - 1, env=ONE_BLAS_THREAD)
    try:
        yield Shards(cfg, processes)
    finally:
        processes.shutdown(wait=True)
