"""The A/B section of a sweep report: estimates, global effects and their pairing by seed."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from conftest import recloop

from recloop.experiments import runs as rl
from recloop.experiments.abreport import AB_METRICS, arm_means, bias_rows, design
from recloop.experiments.report_cli import build_report
from recloop.sim.metrics.catalogue import CTR

SWEEP = ["-m", "users=small", "users.n_users=300", "catalog=small", "days=3", "progress=false",
         "policy=popular", "policy@ab.treatment=item_knn", "pipeline.gate=false",
         "ab=all_control,all_treatment,pooled,per_arm", "seed=0,1"]


@pytest.fixture(scope="module")
def ab_sweep(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[rl.Run]]:
    cwd = tmp_path_factory.mktemp("ab")
    done = recloop(SWEEP, cwd)
    assert done.returncode == 0, done.stderr
    (root,) = (cwd / "multirun").glob("*/*")
    found, _ = rl.find_runs(root)
    runs, skipped = rl.load_runs(found)
    assert len(runs) == 8 and not skipped
    rl.assign_variants(runs)
    return root, runs


def test_runs_are_recognised_by_their_design(ab_sweep) -> None:
    _, runs = ab_sweep
    kinds = sorted(design(r) for r in runs)
    assert kinds == sorted(["all_control", "all_treatment", "pooled", "per_arm"] * 2)


def test_bias_is_the_estimate_minus_the_same_seeds_global_effect(ab_sweep) -> None:
    """Recompute one cell by hand from the metrics files: last-days arm means, paired by seed."""
    _, runs = ab_sweep
    rows = bias_rows(runs).set_index(["seed", "training", "metric"])
    assert set(bias_rows(runs)["group"]) == {"all runs"}
    assert len(rows) == 2 * 2 * len(AB_METRICS)
    by = {(r.config["seed"], design(r)): r for r in runs}
    control = arm_means(by[1, "all_control"]).at["control", CTR]
    treated = arm_means(by[1, "all_treatment"]).at["treatment", CTR]
    split = arm_means(by[1, "per_arm"])
    row = rows.loc[(1, "per_arm", CTR)]
    assert row.global_effect == pytest.approx(treated - control)
    assert row.ab_estimate == pytest.approx(split.at["treatment", CTR] - split.at["control", CTR])
    assert np.allclose(rows.bias, rows.ab_estimate - rows.global_effect)


def test_report_shows_the_ab_section(ab_sweep, tmp_path: Path) -> None:
    root, _ = ab_sweep
    target, _, _ = build_report(root, tmp_path / "page.html")
    page = target.read_text(encoding="utf-8")
    for heading in ("A/B estimate against the global effect", "A/B daily CTR effect, seed 0",
                    "bias (pooled)", "bias (per_arm)", "Sample-ratio check"):
        assert heading in page, heading
    assert "ab=pooled · treatment" in page and "ab=per_arm · control" in page


def test_runs_of_other_swept_settings_are_compared_within_their_group(ab_sweep) -> None:
    """A second treatment policy in the same sweep must get its own comparison, not
    overwrite the first one's runs."""
    _, runs = ab_sweep
    doubled = []
    for run in runs:
        for treatment in ("item_knn", "als"):
            copy = dataclasses.replace(run, overrides={**run.overrides,
                                                       "policy@ab.treatment": treatment})
            doubled.append(copy)
    rows = bias_rows(doubled)
    assert set(rows["group"]) == {"policy@ab.treatment=item_knn", "policy@ab.treatment=als"}
    assert len(rows) == 2 * 2 * 2 * len(AB_METRICS)
    with pytest.raises(ValueError, match="two pooled runs"):
        bias_rows(runs + [r for r in runs if design(r) == "pooled"])
