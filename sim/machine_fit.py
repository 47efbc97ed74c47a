"""Will the run fit this machine? A peak-memory estimate from the config, checked before
anything is allocated, and the training threads checked against the cores.

Without it a run too big for memory died of ``MemoryError`` minutes in (a million items),
or ran into swap, or was killed by the kernel with nothing recorded. The estimate is a
plain formula fitted to measured peaks (maximum resident set size, ``days=2``, ALS)::

    peak ≈ BASE + PER_USER·U + PER_ITEM·I + watched(U, I) [+ HYBRID_PER_PAIR·U·I]
           + (U + I)·(PER_LATENT·latent_dim + PER_FACTOR·factors of each trained policy)

with ``U`` every user the run may see (sign-ups included) and ``I`` the catalog. Measured
(users × items → MiB, 2026-12-03): 1k × 300 → 256, 20k × 300 → 369, 10k × 2k → 338,
1k × 20k → 614, 5k × 20k → 666, 1k × 60k → 819, 100k × 10k → 911, 200k × 20k → 1,638; the
formula lies 0.07-0.5 GiB above each (``BASE`` is generous: other policies load more
libraries). ``watched`` is the watched matrix as a long run leaves it
(``policies.watched.late_nbytes``: a bit per pair below 4,096 items, per-user lists above);
hybrid serving adds its nightly candidate mask, a bit per pair; per item, the scores and
rankings of a chunk of users.

Available memory is ``MemAvailable`` from ``/proc/meminfo``, lowered to a cgroup limit when
one is set; where neither can be read the check is skipped rather than guessed.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from recloop.policies.watched import late_nbytes

GIB = 2**30
BASE = 0.5 * GIB  # interpreter, numpy, pandas, pyarrow, implicit, simpy loaded
PER_USER = 4 * 1024  # population state, per-user streams, sessions, the day's log rows
PER_ITEM = 10 * 1024  # per item: nightly scores and rankings, tallies, the gate's baselines
HYBRID_PER_PAIR = 0.125  # hybrid serving's nightly candidate mask, a bit each
PER_LATENT = 8  # float64 per (user or item, latent dimension): true tastes, item vectors
PER_FACTOR = 12  # float32 factors, their copy in the registry, a solver buffer
MAX_THREADS_PER_CORE = 4  # more training threads than this only adds memory and contention


def estimate_bytes(cfg: Any) -> float:
    """Peak resident memory of a run of ``cfg``, in bytes."""
    users, items = population_size(cfg), cfg.catalog.n_items
    total = BASE + PER_USER * users + PER_ITEM * items + late_nbytes(users, items)
    if cfg.serving.name == "hybrid":
        total += HYBRID_PER_PAIR * users * items
    total += PER_LATENT * (users + items) * cfg.catalog.latent_dim
    for policy in _trained_policies(cfg):
        total += PER_FACTOR * (users + items) * getattr(policy, "factors", 0)
    return total


def available_bytes() -> int | None:
    """Memory this process may still use: MemAvailable, capped by a cgroup limit; None if
    neither is readable (the check is then skipped)."""
    found = _meminfo_available()
    limit = _cgroup_headroom()
    if found is None or limit is None:
        return found if limit is None else limit
    return min(found, limit)


def memory_problem(cfg: Any, available: int | None) -> str | None:
    """One line naming the fields to change, or None when the run fits (or nothing is known)."""
    if available is None:
        return None
    need = estimate_bytes(cfg)
    if need <= available:
        return None
    items = cfg.catalog.n_items
    return (f"users.n_users={cfg.users.n_users}, catalog.n_items={items}: the run needs about "
            f"{need / GIB:.1f} GiB at its peak but {available / GIB:.1f} GiB is available; "
            "lower users.n_users or catalog.n_items (memory grows with users × items)")


def threads_problem(threads: Any, cores: int | None = None) -> str | None:
    """The allowed thread counts on this machine, or None if ``threads`` is one of them."""
    cores = cores or _cores()
    top = MAX_THREADS_PER_CORE * cores
    return None if threads <= top else f"at most {top} ({MAX_THREADS_PER_CORE} per core, {cores} cores)"


def population_size(cfg: Any) -> int:
    """Everyone the run may see: the first ``n_users`` and every later sign-up (as
    ``sim/world.py`` sizes the population)."""
    return cfg.users.n_users + cfg.days * cfg.users.visits.signups_per_day


def _trained_policies(cfg: Any) -> list[Any]:
    return [p for p in (cfg.policy, cfg.ab.treatment, cfg.shadow) if p is not None]


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _meminfo_available() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def _cgroup_headroom() -> int | None:
    """cgroup v2 ``memory.max`` minus ``memory.current``; None without a limit."""
    root = Path("/sys/fs/cgroup")
    try:
        limit = (root / "memory.max").read_text().strip()
        if limit == "max":
            return None
        return max(0, int(limit) - int((root / "memory.current").read_text()))
    except (OSError, ValueError):
        return None
