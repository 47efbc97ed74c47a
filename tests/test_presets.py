"""Every experiment preset composes, runs at small size, and sweeps as it says."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from conftest import recloop

from recloop.experiments.preflight import CONF_DIR, check_job, group_options
from recloop.sim.story import simulate

PRESETS = group_options("experiment")
SMALL = ["users=small", "catalog=small", "days=3", "progress=false"]
# fault nights and the churn model's first fit must fall inside a 3-day run
FIT_TO_THREE_DAYS = {"fault_tolerance": ["faults.failed_nights=[1]", "faults.log_loss_days=[1]"],
                     "indirect_loop": ["churn_model.label_days=1", "churn_model.min_train_dates=1"]}


def test_the_documented_presets_exist() -> None:
    expected = {"popularity_concentration", "exploration_fix", "diversity_fix",
                "offline_vs_online", "batch_vs_realtime", "clickbait", "fault_tolerance",
                "ab_interference", "leakage", "indirect_loop"}
    assert expected <= set(PRESETS)


@pytest.mark.parametrize("preset", PRESETS)
def test_preset_is_override_only_and_global(preset: str) -> None:
    text = (CONF_DIR / "experiment" / f"{preset}.yaml").read_text()
    assert text.startswith("# @package _global_")
    params = yaml.safe_load(text)["hydra"]["sweeper"]["params"]
    assert "seed" in params and len(str(params["seed"]).split(",")) >= 3  # seeds are a sweep axis


@pytest.mark.slow
@pytest.mark.parametrize("preset", PRESETS)
def test_preset_runs_small(preset: str, tmp_path: Path) -> None:
    params = yaml.safe_load((CONF_DIR / "experiment" / f"{preset}.yaml").read_text())
    swept = params["hydra"]["sweeper"]["params"]
    last = [f"{k}={str(v).split(',')[-1]}" for k, v in swept.items()]  # ab_interference: a split
    cfg = check_job([f"experiment={preset}", *SMALL, *last, *FIT_TO_THREE_DAYS.get(preset, [])])
    metrics = simulate(cfg, tmp_path).metrics
    assert sorted(metrics.day.unique()) == [0, 1, 2]


@pytest.mark.slow
def test_preset_sweep_in_parallel(tmp_path: Path) -> None:
    """The clickbait preset sweeps label × seed: six runs, two at a time with joblib."""
    pytest.importorskip("hydra_plugins.hydra_joblib_launcher")  # the [sweep] extra
    done = recloop(["-m", "experiment=clickbait", *SMALL, "days=2", "hydra/launcher=joblib",
                    "hydra.launcher.n_jobs=2"], tmp_path)
    assert done.returncode == 0, done.stderr
    runs = sorted(p.parent.name for p in tmp_path.rglob("run.json"))
    assert len(runs) == 6
    assert sum("train.label=complete" in r for r in runs) == 3
