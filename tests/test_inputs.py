"""The bad inputs that once gave tracebacks, hangs or silently wrong runs: each is one line now."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import SMALL, recloop

from recloop.experiments.override_checks import type_problem
from recloop.experiments.preflight import check_command_line, check_job
from recloop.sim import machine_fit
from recloop.sim.config import ConfigError

# override → the field the one-line error must name (each was a traceback, a hang, a
# segfault or a silently wrong run before)
LISTED = [
    ("faults.outage_rate=inf", "faults.outage_rate"),
    ("policy.alpha=inf", "policy.alpha"),
    ("users.choice.affinity_weight=inf", "users.choice.affinity_weight"),
    ("users.choice.affinity_weight=nan", "users.choice.affinity_weight"),
    ("users.choice.click_bias=-inf", "users.choice.click_bias"),
    ("policy.factors=100000000", "policy.factors"),
    ("serving.spare=1000000000", "serving.spare"),
    ("policy.threads=100000", "policy.threads"),
    ("users.n_users=40000000", "users.n_users"),
    ("policy.iterations=1000000000", "policy.iterations"),
    ("catalog.latent_dim=100000000", "catalog.latent_dim"),
    ("pipeline.gate=2", "pipeline.gate"),
    ("pipeline.gate=yes", "pipeline.gate"),
    ("policy@ab.treatment=popular", "ab.share"),
    ("pipeline.validation.volume_low=3", "pipeline.validation.volume_high"),
]


@pytest.mark.parametrize(("override", "field"), LISTED)
def test_listed_bad_inputs_give_one_line_naming_the_field(override: str, field: str) -> None:
    with pytest.raises(ConfigError) as err:
        check_command_line([*SMALL, override])
    message = str(err.value)
    assert message.startswith(f"{field}=") and "\n" not in message


def test_an_empty_sweep_is_an_error() -> None:
    with pytest.raises(ConfigError, match=r"^seed=range\(0,0\): the sweep is empty"):
        check_command_line(["-m", "seed=range(0,0)", *SMALL])


def test_a_treatment_runs_with_a_share_or_a_design() -> None:
    assert check_job([*SMALL, "policy@ab.treatment=popular", "ab.share=0.5"]).ab.share == 0.5
    control = check_job([*SMALL, "policy@ab.treatment=popular", "ab=all_control"])
    assert control.ab.share == 0.0  # everyone on control, by choice: allowed


@pytest.mark.parametrize(
    ("declared", "value", "allowed"),
    [(bool, True, None), (bool, 1, "true or false"), (bool, "yes", "true or false"),
     (int, 3, None), (int, True, "an integer"), (int, 2.5, "an integer"),
     (float, 3, None), (float, float("nan"), None),  # NaN is a float: the range rejects it
     (float, False, "a number"), (float, "fast", "a number"),
     (int | None, None, None), (int | None, "x", "an integer"),
     (list[int], [1, 2], None), (list[int], [1, True], "a list of integers, e.g. [3,7]"),
     (str, "main", None), (str, 5, None), (str, True, "text (quote it: 'true')")],
)
def test_an_override_must_have_its_field_type(declared: object, value: object,
                                              allowed: str | None) -> None:
    assert type_problem(declared, value) == allowed


MEASURED_MIB = [(1000, 300, 256), (20000, 300, 369), (10000, 2000, 338), (1000, 20000, 614),
                (5000, 20000, 666), (1000, 60000, 819), (100000, 10000, 911),
                (200000, 20000, 1638)]  # peak RSS of days=2 ALS runs (benchmarks/scale.py)


@pytest.mark.parametrize(("users", "items", "mib"), MEASURED_MIB)
def test_memory_estimate_covers_measured_peaks_without_wasting_much(
    users: int, items: int, mib: int
) -> None:
    cfg = check_job([f"users.n_users={users}", f"catalog.n_items={items}", "days=2",
                     "users.visits.signups_per_day=0"])
    estimate = machine_fit.estimate_bytes(cfg) / 2**20
    assert mib <= estimate <= mib + 512


def test_a_run_that_will_not_fit_is_refused_with_the_estimate(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cfg = check_job(["catalog.n_items=200000"])  # 10k users × 200k items: ~2.8 GiB
    monkeypatch.setattr(machine_fit, "available_bytes", lambda: 2 * 2**30)
    with pytest.raises(ConfigError) as err:
        check_job(["catalog.n_items=200000"])
    message = str(err.value)
    assert message.startswith("users.n_users=10000, catalog.n_items=200000: the run needs about")
    need = machine_fit.estimate_bytes(cfg) / 2**30
    assert f"{need:.1f} GiB" in message and "2.0 GiB is available" in message
    assert "lower users.n_users or catalog.n_items" in message
    monkeypatch.setattr(machine_fit, "available_bytes", lambda: None)  # unknown: not refused
    check_job(["catalog.n_items=200000"])


def test_training_threads_are_bounded_by_the_cores() -> None:
    assert machine_fit.threads_problem(8, cores=2) is None
    assert machine_fit.threads_problem(9, cores=2) == "at most 8 (4 per core, 2 cores)"


@pytest.mark.parametrize(
    ("args", "start"),
    [(["pipeline.gate=2"], "recloop: config error: pipeline.gate=2 is out of range"),
     (["-m", "seed=range(0,0)"], "recloop: config error: seed=range(0,0): the sweep is empty"),
     (["hydra.run.dir=blocker/run"], "recloop: cannot write the run folder blocker/run: "),
     (["hydra.run.dir=blocker"], "recloop: cannot write the run folder blocker: a file is in")],
)
def test_the_command_line_answers_bad_input_in_one_line(args: list[str], start: str,
                                                       tmp_path: Path) -> None:
    (tmp_path / "blocker").write_text("a file where the run folder should be")
    done = recloop([*SMALL, "days=2", *args], tmp_path, timeout=120,
                   env={**os.environ, "HYDRA_FULL_ERROR": "0"})
    assert done.returncode == 2
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith(start) and "Traceback" not in done.stderr


def test_every_numeric_field_declares_an_upper_bound() -> None:
    """``AtLeast`` alone let 1e9 iterations hang a run: each number needs a ``Between``."""
    from test_fuzz_config import POLICY_LEAVES, RUN_LEAVES

    from recloop.conf.ranges import Between

    own_rules = {"seed", "tick_minutes"}  # null-or-non-negative and divisors of a day
    numeric = [leaf for leaf in RUN_LEAVES + [x for g in POLICY_LEAVES.values() for x in g]
               if leaf.kind in (int, float) and leaf.path not in own_rules]
    assert len(numeric) > 60
    assert [leaf.path for leaf in numeric if not isinstance(leaf.rule, Between)] == []
