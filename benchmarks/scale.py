"""The scale ladder: how wall time, throughput and peak memory grow with the world.

Runs ALS with batch serving for each size in a fresh subprocess (so peak RSS belongs to one
run) and prints, per size, the median over repeats of wall time, sessions per second, peak
RSS, CPU time (over wall: how many cores were kept busy) and where the main thread's time
went (``benchmarks/phases.py``):

    python benchmarks/scale.py                      # 10k x 2k and 100k x 10k, 5 days
    python benchmarks/scale.py --large --million    # also 300k x 20k and 1M x 20k
    python benchmarks/scale.py --days 3 --repeats 1 serving=hybrid   # Hydra overrides pass on

A size the start-up memory check refuses is reported with its one-line reason.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from phases import PhaseClock

BASE = [(10_000, 2_000), (100_000, 10_000)]
LARGE, MILLION = (300_000, 20_000), (1_000_000, 20_000)


def child(overrides: list[str]) -> None:
    """One run, timed by phase; prints one JSON line."""
    from phases import install

    from recloop.experiments.preflight import check_job
    from recloop.sim.metrics.catalogue import SESSIONS
    from recloop.sim.story import simulate

    clock = install()
    cfg = check_job([*overrides, "progress=false"])
    with tempfile.TemporaryDirectory() as run_dir:
        start = time.perf_counter()
        trace_days(clock, start)
        result = simulate(cfg, run_dir)
        wall = time.perf_counter() - start
    sessions = int(result.metrics.loc[result.metrics.metric == SESSIONS, "value"].sum())
    phases = dict(clock.seconds)
    phases["setup and other"] = wall - sum(phases.values())
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(json.dumps({"wall_s": wall, "sessions": sessions, "phases": phases,
                      "cpu_s": usage.ru_utime + usage.ru_stime, "peak_gib": usage.ru_maxrss / 2**20}))


def trace_days(clock: PhaseClock, start: float) -> None:
    """After each midnight, one JSON line on stderr (elapsed wall, CPU, RSS, phases so far):
    a long run leaves its progress behind even when it is stopped before the end."""
    from recloop.sim.engine import Engine

    close_day = Engine.close_day

    def traced(self: Engine, day: int) -> None:
        close_day(self, day)
        usage = resource.getrusage(resource.RUSAGE_SELF)
        print(json.dumps({"day": day, "elapsed_s": round(time.perf_counter() - start, 1),
                          "cpu_s": round(usage.ru_utime + usage.ru_stime, 1),
                          "peak_gib": round(usage.ru_maxrss / 2**20, 2),
                          "phases": {k: round(v, 1) for k, v in clock.seconds.items()}}),
              file=sys.stderr, flush=True)

    Engine.close_day = traced  # type: ignore[method-assign]


def run_once(overrides: list[str]) -> dict | str:
    """A child run's row, or the reason it did not run."""
    out = subprocess.run([sys.executable, __file__, "--child", *overrides], capture_output=True,
                         text=True, check=False)
    if out.returncode != 0:
        lines = out.stderr.strip().splitlines()
        return lines[-1] if lines else f"exit {out.returncode}"
    return json.loads(out.stdout.strip().splitlines()[-1])


def report(label: str, rows: list[dict]) -> None:
    """Print the median of each figure over ``rows``."""
    keys = ("wall_s", "sessions", "peak_gib", "cpu_s")
    med = {key: statistics.median(r[key] for r in rows) for key in keys}
    walls = ", ".join(f"{r['wall_s']:.1f}" for r in rows)
    print(f"{label}: wall {med['wall_s']:.1f} s (runs: {walls}), {med['sessions']:,.0f} sessions, "
          f"{med['sessions'] / med['wall_s']:,.0f} sessions/s, peak RSS {med['peak_gib']:.2f} GiB, "
          f"CPU {med['cpu_s']:.0f} s ({med['cpu_s'] / med['wall_s']:.2f} cores busy)")
    for phase in sorted({p for r in rows for p in r["phases"]}):
        secs = statistics.median(r["phases"].get(phase, 0.0) for r in rows)
        print(f"    {phase:<38} {secs:8.1f} s  {100 * secs / med['wall_s']:5.1f}%")
    sys.stdout.flush()


def main() -> None:
    if sys.argv[1:2] == ["--child"]:
        child(sys.argv[2:])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--large", action="store_true", help="also 300k users x 20k items")
    parser.add_argument("--million", action="store_true", help="also 1M users x 20k items")
    parser.add_argument("--sizes", help="instead: USERSxITEMS,... e.g. 50000x2000,50000x20000")
    args, overrides = parser.parse_known_args()
    sizes = list(BASE) + [LARGE] * args.large + [MILLION] * args.million
    if args.sizes:
        sizes = [tuple(int(n) for n in s.split("x")) for s in args.sizes.split(",")]
    for users, items in sizes:
        label = f"{users:,} users x {items:,} items x {args.days} days"
        rows = []
        for _ in range(args.repeats):
            row = run_once([f"users.n_users={users}", f"catalog.n_items={items}",
                            f"days={args.days}", "policy=als", "serving=batch", *overrides])
            if isinstance(row, str):
                print(f"{label}: not run: {row}")
                break
            rows.append(row)
        if rows:
            report(label, rows)


if __name__ == "__main__":
    main()
