"""Time a run with its day's sessions in 1, 2, ... shards (threads or worker processes).

The splits run interleaved, each repeat in a fresh subprocess (``default_scenario.run_once``),
with ``common_random_numbers=true`` (sharding needs it). Prints every run, then the medians
and each split's speed-up over one shard; the impressions must agree (the runs are
byte-identical; ``tests/test_shards.py`` proves that on smaller worlds):

    python benchmarks/shards.py [--repeats 3] [--splits 1,2,2p] [extra Hydra overrides...]

A split is a shard count, with ``p`` for worker processes instead of threads.
"""

from __future__ import annotations

import argparse
import statistics

from default_scenario import run_once


def split_overrides(split: str) -> list[str]:
    """``2p`` → two shards in worker processes; ``2`` → two in threads."""
    workers = "processes" if split.endswith("p") else "threads"
    return [f"shards.n={split.rstrip('p')}", f"shards.workers={workers}"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--splits", default="1,2,2p")
    args, overrides = parser.parse_known_args()
    splits = args.splits.split(",")
    walls: dict[str, list[float]] = {s: [] for s in splits}
    impressions: set[int] = set()
    for i in range(args.repeats):
        for split in splits:
            row = run_once(["common_random_numbers=true", *split_overrides(split), *overrides])
            walls[split].append(row["wall_s"])
            impressions.add(int(row["impressions"]))
            print(f"  {split} run {i + 1}: {row['wall_s']:.1f} s, peak {row['peak_mib']:.0f} MiB",
                  flush=True)
    if len(impressions) != 1:
        raise SystemExit(f"the splits served different impressions: {sorted(impressions)}")
    one = statistics.median(walls[splits[0]])
    print(f"medians of {args.repeats} [overrides: {' '.join(overrides) or 'none'}]")
    print(f"{'split':<8}{'wall s':>8}{'speed-up':>10}")
    for split, times in walls.items():
        wall = statistics.median(times)
        print(f"{split:<8}{wall:>8.1f}{one / wall:>10.2f}")


if __name__ == "__main__":
    main()
