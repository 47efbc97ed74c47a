"""A/B tests: hashed assignment, per-user confidence intervals, the SRM check, and arms in
a real run (the log, per-arm training, an A/A test)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recloop.sim.assignment import assign_treatment
from recloop.sim.config import RunConfig
from recloop.sim.metrics.abtest import SRM_ALPHA, srm_p_value
from recloop.sim.metrics.daily import ratio_with_se
from recloop.sim.story import simulate
from recloop.sim.world import population_size

MakeConfig = Callable[..., RunConfig]


def test_assignment_matches_the_share_and_is_a_pure_function_of_the_user() -> None:
    """Binomial tolerance: 4 SE. Raising the share only adds users (a threshold on a hash)."""
    n = 100_000
    for share in (0.1, 0.5, 0.9):
        treated = assign_treatment(n, share, "ab", 7)
        assert abs(treated.mean() - share) < 4 * np.sqrt(share * (1 - share) / n)
    assert not assign_treatment(n, 0.0, "ab", 7).any() and assign_treatment(n, 1.0, "ab", 7).all()
    low, high = assign_treatment(n, 0.3, "ab", 7), assign_treatment(n, 0.6, "ab", 7)
    assert not (low & ~high).any()
    np.testing.assert_array_equal(low, assign_treatment(n, 0.3, "ab", 7))
    other = assign_treatment(n, 0.3, "ab", 8)
    assert 0.3 * 0.7 * 0.9 < (low != other).mean() / 2 < 0.3 * 0.7 * 1.1  # seeds reshuffle


def test_srm_check_flags_a_skewed_split_and_passes_a_fair_one() -> None:
    assert srm_p_value([5_000, 5_050], [0.5, 0.5]) > 0.5
    assert srm_p_value([5_000, 5_500], [0.5, 0.5]) < SRM_ALPHA
    assert srm_p_value([9_000, 1_000], [0.9, 0.1]) == pytest.approx(1.0)


def test_ratio_standard_error_matches_the_spread_over_replicates() -> None:
    """Users drawn from a population, each with their own click propensity (clustered
    clicks) and number of impressions: the delta-method SE must match the SD of the ratio
    over 2,000 replicate samples within 10%. Treating impressions as independent would
    understate it by about a third here."""
    rng = np.random.default_rng(3)
    n_users = 2_000
    estimates, ses = [], []
    for _ in range(2_000):
        propensity = rng.beta(1, 12, n_users)
        impressions = 10 * rng.integers(1, 6, n_users)
        clicks = rng.binomial(impressions, propensity)
        value, se = ratio_with_se(clicks.astype(float), impressions.astype(float))
        estimates.append(value)
        ses.append(se)
    assert np.mean(ses) == pytest.approx(np.std(estimates, ddof=1), rel=0.1)


@pytest.fixture(scope="module")
def aa_run(tmp_path_factory) -> tuple[RunConfig, pd.DataFrame, Path]:
    """An A/A test: the treatment is the control's own config, trained on the pooled log.

    (Trained per arm it is no A/A test at 40/60: the smaller arm's model sees less data,
    and its CTR was lower by 2 to 5 SE on 7 of 10 days in this world.)
    """
    from conftest import SMALL

    from recloop.experiments.preflight import check_job

    cfg = check_job([*SMALL, "days=10", "policy=popular", "policy@ab.treatment=popular",
                     "ab.share=0.4", "ab.training=pooled"])
    path = tmp_path_factory.mktemp("aa")
    return cfg, simulate(cfg, path).metrics, path


def test_every_logged_row_carries_its_users_arm(aa_run) -> None:
    cfg, _, path = aa_run
    log = pd.read_parquet(path / "log", columns=["user", "arm", "policy"])
    treated = assign_treatment(population_size(cfg), 0.4, "ab", cfg.seed)
    expected = np.where(treated[log["user"].to_numpy()], "treatment", "control")
    np.testing.assert_array_equal(log["arm"].astype(str).to_numpy(), expected)
    assert (path / "models" / "control").is_dir() and (path / "models" / "treatment").is_dir()


def test_aa_test_finds_no_effect_and_no_sample_ratio_mismatch(aa_run) -> None:
    """Same policy in both arms: daily CTR effects are noise, z-scores within ±3.5 (10 days,
    P(any |z| > 3.5) < 0.5% under the null) and the SRM check passes every day."""
    _, metrics, _ = aa_run
    ab = metrics[metrics.arm == "ab"].pivot(index="day", columns="metric", values="value")
    z = ab["effect_ctr"] / ab["effect_ctr_se"]
    assert (z.abs() < 3.5).all(), z
    assert (ab["srm_p_value"] > SRM_ALPHA).all()
    served = metrics[metrics.metric == "users_served"].pivot(index="day", columns="arm",
                                                             values="value")
    share = served["treatment"] / (served["treatment"] + served["control"])
    assert share.between(0.35, 0.45).all()


def test_per_arm_training_reads_only_the_arms_rows(small_config: MakeConfig, tmp_path: Path) -> None:
    """Popular trained per arm: each arm's nightly list is its own arm's click counts."""
    from recloop.sim.window import build_window

    cfg = small_config("days=3", "policy=popular", "policy@ab.treatment=popular", "ab.share=0.5",
                       "ab.training=per_arm")
    result = simulate(cfg, tmp_path)
    log = pd.read_parquet(tmp_path / "log")
    for arm in result.arms:
        window = build_window(result.log, 3, cfg.train, cfg.complete_at, result.state.shape,
                              arm=arm)
        mine = log[(log.arm == arm) & log.clicked]
        assert window.interactions.sum() == len(mine)
        assert set(np.unique(window.interactions.nonzero()[0])) == set(mine.user.unique())
        assert window.data_version != result.log.data_version([0, 1, 2])


@pytest.mark.parametrize("training", ["per_arm", "pooled"])
def test_real_time_ranking_sees_todays_clicks_of_its_own_arm_only_when_per_arm(
    small_config: MakeConfig, tmp_path: Path, monkeypatch, training: str
) -> None:
    """Per-arm training isolates the arms' data, today's folded-in clicks included."""
    from recloop.policies.simple import PopularPolicy
    from recloop.sim.assignment import assign_treatment

    cfg = small_config("days=2", "serving=realtime", "policy=popular",
                       "policy@ab.treatment=popular", "ab.share=0.5", f"ab.training={training}")
    treated = assign_treatment(population_size(cfg), 0.5, "ab", cfg.seed)
    crossings = []
    score = PopularPolicy.score

    def spy(self, users, ctx):
        if ctx.recent is not None and users.size:
            rows = np.flatnonzero(np.diff(ctx.recent.indptr))
            crossings.append(bool((treated[rows] != treated[users[0]]).any()))
        return score(self, users, ctx)

    monkeypatch.setattr(PopularPolicy, "score", spy)
    simulate(cfg, tmp_path)
    assert crossings
    assert any(crossings) == (training == "pooled")
