"""Fingerprint what runs write, to show that a refactor changed no number.

Runs each scenario for each seed through ``simulate`` (in a fresh subprocess) and prints
the SHA-256 of ``metrics.parquet`` and of every sealed log and shadow-log partition. Save
the output of two commits and compare them; ``--check FILE`` does the comparison and exits
non-zero on the first difference:

    python benchmarks/fingerprint.py > before.json          # on the old commit
    python benchmarks/fingerprint.py --check before.json    # on the new one

The runs import the installed ``recloop``: fingerprint another checkout from a virtualenv
where that checkout is installed (``pip install -e``).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

SCENARIOS: dict[str, list[str]] = {
    "default": [],
    "ab_shadow_outages_realtime": [
        "users=small", "catalog=small", "serving=realtime", "policy=popular",
        "policy@ab.treatment=als", "ab=pooled", "policy@shadow=item_knn",
        "faults.outage_rate=2", "days=12",
    ],
    "per_arm_controller_faults_hybrid": [
        "users=small", "catalog=small", "serving=hybrid", "policy=als", "policy.epsilon=0.05",
        "controller.adaptive_epsilon=true", "policy@ab.treatment=item_knn",
        "ab.treatment.epsilon=0.1", "ab=per_arm",
        "policy@shadow=popular", "faults.outage_rate=1", "faults.failed_nights=[3]",
        "faults.log_loss_days=[5]", "pipeline.rollback_ctr_drop=0.05", "days=12",
    ],
}

CHILD = r"""
import hashlib, json, sys, tempfile
from pathlib import Path
from recloop.experiments.preflight import check_job
from recloop.sim.story import simulate
cfg = check_job(sys.argv[1:] + ["progress=false"])
with tempfile.TemporaryDirectory() as run_dir:
    result = simulate(cfg, Path(run_dir))
    result.metrics.to_parquet(Path(run_dir) / "metrics.parquet", index=False)
    files = sorted(p for p in Path(run_dir).rglob("*.parquet"))
    print(json.dumps({str(p.relative_to(run_dir)): hashlib.sha256(p.read_bytes()).hexdigest()
                      for p in files}))
"""


def fingerprint(overrides: list[str]) -> dict[str, str]:
    out = subprocess.run([sys.executable, "-c", CHILD, *overrides], capture_output=True,
                         text=True, check=False)
    if out.returncode != 0:
        sys.exit(f"run {' '.join(overrides)} failed:\n{out.stderr.strip()}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    parser.add_argument("--check", help="a saved fingerprint to compare with")
    args = parser.parse_args()
    expected = json.loads(Path(args.check).read_text()) if args.check else None
    found: dict[str, dict[str, str]] = {}
    for name in args.scenarios.split(","):
        for seed in args.seeds.split(","):
            key = f"{name}/seed{seed}"
            found[key] = fingerprint([*SCENARIOS[name], f"seed={seed}"])
            if expected is not None:
                same = expected.get(key) == found[key]
                print(f"{key}: {len(found[key])} files {'identical' if same else 'DIFFER'}",
                      file=sys.stderr)
                if not same:
                    differ = [f for f in found[key] if expected.get(key, {}).get(f) != found[key][f]]
                    sys.exit(f"{key} differs in {differ[:5]}")
    if expected is None:
        print(json.dumps(found, indent=1))


if __name__ == "__main__":
    main()
