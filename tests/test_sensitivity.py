"""The sensitivity analysis reads each finding's sign right, on runs whose metrics are planted."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recloop.experiments import sensitivity as sv
from recloop.experiments.runs import Run
from recloop.experiments.sensitivity_report import sensitivity_blocks

DAYS = 12


def fake_run(setting: str, probe: str, seed: int, values: dict[str, float],
             arm: str = "main") -> Run:
    """A run whose every listed metric takes ``value`` every day (+ a seed's small wobble)."""
    wobble = 1e-4 * (seed - 1)
    rows = [{"day": d, "arm": a, "metric": m, "value": v + wobble}
            for m, v in values.items() for d in range(DAYS)
            for a in (["ab"] if m.startswith("effect_") else [arm])]
    return Run(Path(f"/nowhere/{setting}/{probe}/{seed}"), {},
               {"vary": setting, "probe": probe, "seed": str(seed)},
               pd.DataFrame(rows), pd.DataFrame(), 10, np.zeros(10), np.zeros(10))


def world(setting: str, seed: int, popular_top1: float, ab_estimate: float) -> list[Run]:
    """Every probe of one setting and seed; the learners' offline order reverses CTR's."""
    runs = [fake_run(setting, "random", seed, {"top1_share": 0.02}),
            fake_run(setting, "popular", seed, {"top1_share": popular_top1, "ctr": 0.03,
                                               "offline_ndcg_candidate": 0.40}),
            fake_run(setting, "als", seed, {"coverage": 0.2, "ctr": 0.05,
                                           "offline_ndcg_candidate": 0.30}),
            fake_run(setting, "als_explore", seed, {"coverage": 0.8, "ctr": 0.052}),
            fake_run(setting, "item_knn", seed, {"ctr": 0.04, "offline_ndcg_candidate": 0.35}),
            fake_run(setting, "bpr", seed, {"ctr": 0.06, "offline_ndcg_candidate": 0.25}),
            fake_run(setting, "ab_pooled", seed, {"effect_ctr": ab_estimate}),
            fake_run(setting, "ab_all_control", seed, {"ctr": 0.03}, arm="control"),
            fake_run(setting, "ab_all_treatment", seed, {"ctr": 0.05}, arm="treatment")]
    return runs


@pytest.fixture
def sweep() -> list[Run]:
    runs: list[Run] = []
    for seed in range(3):
        runs += world("base", seed, popular_top1=0.6, ab_estimate=0.015)
        runs += world("items_double", seed, popular_top1=0.01, ab_estimate=0.015)  # flips
        runs += world("drift_off", seed, popular_top1=0.5, ab_estimate=0.025)  # bias flips
    return runs


def test_effects_are_the_planted_differences(sweep: list[Run]) -> None:
    table = sv.effects(sweep)
    base = table[(table.setting == "base") & (table.seed == "1")].set_index("finding")["effect"]
    assert base["concentration"] == pytest.approx(0.58)
    assert base["exploration: coverage"] == pytest.approx(0.6)
    assert base["exploration: CTR"] == pytest.approx(0.002)
    assert base["offline ≠ online"] == pytest.approx(2.0)  # offline order is CTR's reversed
    assert base["pooled A/B bias"] == pytest.approx(0.015 - 0.02)


def test_verdicts_name_where_a_sign_flips(sweep: list[Run]) -> None:
    table = sv.verdicts(sv.effects(sweep), ["base", "drift_off", "items_double"])
    conc = table[table.finding == "concentration"].set_index("setting")["verdict"]
    assert conc.to_dict() == {"base": "holds", "drift_off": "holds", "items_double": "flips"}
    summary = sv.survival(table).set_index("finding")
    assert summary.loc["concentration", "where it flips"] == "items_double"
    assert summary.loc["pooled A/B bias", "where it flips"] == "drift_off"
    assert summary.loc["pooled A/B bias", "holds"] == 2
    assert summary.loc["exploration: coverage", "flips"] == 0


def test_a_sign_within_two_standard_errors_is_unclear() -> None:
    per_seed = pd.DataFrame({"setting": ["base"] * 3 + ["x"] * 3, "seed": list("012") * 2,
                             "finding": ["concentration"] * 6,
                             "effect": [1.0, 1.1, 0.9, 0.5, -0.9, -0.1]})
    table = sv.verdicts(per_seed, ["base", "x"]).set_index("setting")
    assert table.loc["x", "verdict"] == "unclear"  # mean −0.17, s.e. 0.41


def test_the_report_section_renders(sweep: list[Run]) -> None:
    assert sv.is_sensitivity_sweep(sweep)
    blocks = sensitivity_blocks(sweep)
    assert [b[0] for b in blocks] == ["Which findings survive", "Effects by setting",
                                      "Effects by setting, in numbers"]
    assert "items_double" in blocks[0][2] and "flips" in blocks[2][2]
