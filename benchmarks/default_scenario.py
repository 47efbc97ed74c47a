"""Time the default scenario (10,000 users, 2,000 items, 30 days, nightly ALS).

Each repeat runs in a fresh subprocess so peak memory (ru_maxrss) belongs to one run.
Prints one line per run and the medians:

    python benchmarks/default_scenario.py [--repeats 3] [extra Hydra overrides...]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys

CHILD = r"""
import json, resource, sys, tempfile, time
from experiments.preflight import check_job
from sim.story import simulate
cfg = check_job(sys.argv[1:] + ["progress=false"])
with tempfile.TemporaryDirectory() as run_dir:
    start = time.perf_counter()
    result = simulate(cfg, run_dir)
    wall = time.perf_counter() - start
peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"wall_s": wall, "impressions": result.impressions, "peak_mib": peak_mib}))
"""


def run_once(overrides: list[str]) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, *overrides], capture_output=True, text=True, check=True
    )
    row = json.loads(out.stdout.strip().splitlines()[-1])
    row["impressions_per_s"] = row["impressions"] / row["wall_s"]
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args, overrides = parser.parse_known_args()
    rows = []
    for i in range(args.repeats):
        row = run_once(overrides)
        rows.append(row)
        print(
            f"run {i + 1}: {row['wall_s']:.1f} s wall, {row['impressions']:,} impressions, "
            f"{row['impressions_per_s']:,.0f} impressions/s, peak {row['peak_mib']:.0f} MiB",
            flush=True,
        )
    med = {k: statistics.median(r[k] for r in rows) for k in rows[0]}
    print(
        f"median of {len(rows)}: {med['wall_s']:.1f} s wall, "
        f"{med['impressions_per_s']:,.0f} impressions/s, peak {med['peak_mib']:.0f} MiB"
        f"  [overrides: {' '.join(overrides) or 'none'}]"
    )


if __name__ == "__main__":
    main()
