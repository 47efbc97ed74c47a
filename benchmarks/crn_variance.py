"""How much common random numbers shrink the noise of a policy comparison.

For each seed, runs two policies on the same world, once with the components' shared
streams and once with per-user keyed draws (``common_random_numbers=true``), and takes the
difference of a metric averaged over the last days. Prints the standard deviation of that
difference across seeds for both kinds of randomness, and their ratio:

    python benchmarks/crn_variance.py [--seeds 8] [--a popular] [--b als] [--metric ctr]
                                      [extra Hydra overrides, e.g. days=10]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

from recloop.experiments.preflight import check_job
from recloop.sim.story import simulate

DEFAULTS = ["users=small", "catalog=small", "days=10", "progress=false"]


def late_mean(overrides: list[str], metric: str, last: int) -> float:
    cfg = check_job(overrides)
    with tempfile.TemporaryDirectory() as run_dir:
        metrics = simulate(cfg, Path(run_dir)).metrics
    rows = metrics[(metrics.metric == metric) & (metrics.day >= cfg.days - last)]
    return float(rows.value.mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--a", default="popular")
    parser.add_argument("--b", default="als")
    parser.add_argument("--metric", default="ctr")
    parser.add_argument("--last", type=int, default=5, help="days averaged at the end")
    args, extra = parser.parse_known_args()
    spread = {}
    for crn in ("false", "true"):
        diffs = []
        for seed in range(args.seeds):
            common = [*DEFAULTS, *extra, f"seed={seed}", f"common_random_numbers={crn}"]
            b = late_mean([*common, f"policy={args.b}"], args.metric, args.last)
            a = late_mean([*common, f"policy={args.a}"], args.metric, args.last)
            diffs.append(b - a)
        spread[crn] = statistics.stdev(diffs)
        print(f"common_random_numbers={crn}: {args.metric}({args.b}) - {args.metric}({args.a}) "
              f"mean {statistics.mean(diffs):+.5f}, sd over {args.seeds} seeds {spread[crn]:.5f}")
    print(f"sd ratio (keyed / streams): {spread['true'] / spread['false']:.2f}")


if __name__ == "__main__":
    main()
