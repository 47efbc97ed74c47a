"""A run's late-day means of the metrics that say whether the loop learns, and its gate.

Runs one simulation with the given Hydra overrides and prints one JSON line: the mean over
the last ``--last`` days of personalisation, oracle gap recovered, CTR, concentration and
welfare, and how many nights the gate judged and rejected:

    python benchmarks/late_means.py [--last 10] policy=als users.organic.per_session=0.5
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from recloop.experiments.preflight import check_job
from recloop.sim.metrics.catalogue import (
    CTR,
    GINI,
    ORACLE_GAP,
    PERSONALISATION,
    REACH_GINI,
    TOP1_SHARE,
    UTILITY,
    WELFARE,
)
from recloop.sim.story import simulate

SHOWN = (PERSONALISATION, ORACLE_GAP, CTR, TOP1_SHARE, GINI, REACH_GINI, WELFARE, UTILITY)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--last", type=int, default=10, help="days averaged at the end")
    args, overrides = parser.parse_known_args()
    cfg = check_job([*overrides, "progress=false"])
    with tempfile.TemporaryDirectory() as run_dir:
        result = simulate(cfg, Path(run_dir))
    late = result.metrics[result.metrics.day >= cfg.days - args.last]
    out: dict[str, object] = {m: round(float(late[late.metric == m].value.mean()), 4)
                              for m in SHOWN}
    registry = result.registry
    out["gate_judged_nights"] = int(registry.gate_passed.notna().sum())
    out["gate_rejected_nights"] = int((registry.status == "rejected").sum())
    print(" ".join(overrides), json.dumps(out))


if __name__ == "__main__":
    main()
