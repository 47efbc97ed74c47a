"""Acceptance: pooled training biases the A/B estimate; per-arm training shrinks the bias.

The ``ab_interference`` preset at full size (10,000 users, 2,000 items, 30 days; most
popular against ALS), seeds 0 and 1: eight runs, about five minutes on two cores. Each
seed's global effect comes from its all-control and all-treatment runs. Measured with
seeds 0-2 when written (last 10 days): the global CTR effect was -0.0093; the pooled A/B
estimate said -0.0063 (bias +0.0029 ± 0.0010), per-arm -0.0093 (bias 0.0000 ± 0.0007).
Smaller worlds (1,000 or 4,000 users) showed no consistent bias either way: the arms'
noise is larger than the interference there.

Since policies draw their tie-break keys when built and score in double precision (a
change of random numbers, not of model), the CTR bias is small at both seeds: true effect
+0.0132 and +0.0190, pooled bias +0.0008 and -0.0019 (6% and 10% of the effect), per-arm
-0.0004 and -0.0007. Per-arm training still shrinks it; that it is worth reporting (over
10% of the effect) is asserted for the top-1% share only.
"""

from __future__ import annotations

import pandas as pd
import pytest

from recloop.experiments.preflight import check_job
from recloop.sim.story import simulate

SEEDS = (0, 1)
DESIGNS = ("all_control", "all_treatment", "pooled", "per_arm")
FINAL_DAYS = 10


def final_mean(metrics: pd.DataFrame, arm: str, metric: str) -> float:
    recent = metrics[(metrics.day > metrics.day.max() - FINAL_DAYS) & (metrics.arm == arm)]
    return float(recent.loc[recent.metric == metric, "value"].mean())


@pytest.fixture(scope="module")
def sweep(tmp_path_factory) -> dict[tuple[int, str], pd.DataFrame]:
    out = {}
    for seed in SEEDS:
        for design in DESIGNS:
            cfg = check_job(["experiment=ab_interference", f"ab={design}", f"seed={seed}",
                             "progress=false"])
            out[seed, design] = simulate(cfg, tmp_path_factory.mktemp(design)).metrics
    return out


@pytest.mark.slow
@pytest.mark.parametrize("metric", ["ctr", "top1_share"])
@pytest.mark.parametrize("seed", SEEDS)
def test_per_arm_training_shrinks_the_pooled_bias(sweep, seed: int, metric: str) -> None:
    control = final_mean(sweep[seed, "all_control"], "control", metric)
    treated = final_mean(sweep[seed, "all_treatment"], "treatment", metric)
    truth = treated - control
    bias = {}
    for training in ("pooled", "per_arm"):
        split = sweep[seed, training]
        estimate = final_mean(split, "treatment", metric) - final_mean(split, "control", metric)
        bias[training] = estimate - truth
    assert abs(bias["per_arm"]) < abs(bias["pooled"]), (truth, bias)
    if metric == "top1_share":  # CTR's pooled bias is no longer this large (docstring)
        assert abs(bias["pooled"]) > 0.1 * abs(truth), (truth, bias)  # worth reporting
