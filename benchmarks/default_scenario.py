"""Time the default scenario (10,000 users, 2,000 items, 30 days, nightly ALS).

Each repeat runs in a fresh subprocess so peak memory (ru_maxrss) belongs to one run.
Prints one line per run and a median row per serving mode:

    python benchmarks/default_scenario.py [--repeats 3] [--modes batch,realtime,hybrid]
                                          [extra Hydra overrides...]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys

CHILD = r"""
import json, resource, sys, tempfile, time
from recloop.experiments.preflight import check_job
from recloop.sim.story import simulate
cfg = check_job(sys.argv[1:] + ["progress=false"])
with tempfile.TemporaryDirectory() as run_dir:
    start = time.perf_counter()
    result = simulate(cfg, run_dir)
    wall = time.perf_counter() - start
peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"wall_s": wall, "impressions": result.impressions, "peak_mib": peak_mib}))
"""


def run_once(overrides: list[str]) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-c", CHILD, *overrides], capture_output=True,
                         text=True, check=False)
    if out.returncode != 0:
        sys.exit(f"benchmark run {' '.join(overrides)} failed:\n{out.stderr.strip()}")
    row = json.loads(out.stdout.strip().splitlines()[-1])
    row["impressions_per_s"] = row["impressions"] / row["wall_s"]
    return row


def median_row(mode: str, overrides: list[str], repeats: int) -> dict[str, float]:
    """Run one serving mode ``repeats`` times; print each run; return the medians."""
    rows = []
    for i in range(repeats):
        row = run_once([f"serving={mode}", *overrides])
        rows.append(row)
        print(
            f"  {mode} run {i + 1}: {row['wall_s']:.1f} s wall, {row['impressions']:,} "
            f"impressions, {row['impressions_per_s']:,.0f}/s, peak {row['peak_mib']:.0f} MiB",
            flush=True,
        )
    return {k: statistics.median(r[k] for r in rows) for k in rows[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--modes", default="batch,realtime,hybrid")
    args, overrides = parser.parse_known_args()
    medians = {m: median_row(m, overrides, args.repeats) for m in args.modes.split(",")}
    base = medians.get("batch", next(iter(medians.values())))["wall_s"]
    print(f"medians of {args.repeats} [overrides: {' '.join(overrides) or 'none'}]")
    print(f"{'serving':<10}{'wall s':>8}{'x batch':>9}{'impressions/s':>15}{'peak MiB':>10}")
    for mode, med in medians.items():
        print(f"{mode:<10}{med['wall_s']:>8.1f}{med['wall_s'] / base:>9.2f}"
              f"{med['impressions_per_s']:>15,.0f}{med['peak_mib']:>10.0f}")


if __name__ == "__main__":
    main()
