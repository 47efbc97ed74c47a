"""Bad input stops the run before simulating, with one line naming the field and range."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import recloop

from experiments.preflight import check_command_line, check_job, expand_sweep
from sim.config import ConfigError, RunConfig


def test_default_config_composes_and_is_valid() -> None:
    cfg = check_job([])
    assert isinstance(cfg, RunConfig)
    assert (cfg.users.n_users, cfg.catalog.n_items, cfg.days) == (10000, 2000, 30)
    assert cfg.policy.name == "als" and cfg.serving.name == "batch"


@pytest.mark.parametrize("policy", ["random", "popular", "item_knn", "als", "oracle"])
@pytest.mark.parametrize("serving", ["batch", "realtime", "hybrid"])
def test_every_group_option_composes(policy: str, serving: str) -> None:
    cfg = check_job([f"policy={policy}", f"serving={serving}", "users=small", "catalog=small"])
    assert cfg.policy.name == policy and cfg.serving.name == serving


@pytest.mark.parametrize(
    ("override", "field", "allowed"),
    [
        ("users.n_users=-5", "users.n_users", "an integer in 1..10000000"),
        ("serving.k=5000", "serving.k", "1..2000 (catalog.n_items)"),
        ("tick_minutes=7", "tick_minutes", "divisor of 1440"),
        ("days=0", "days", "an integer in 1..10000"),
        ("users.niche_fraction=1.5", "users.niche_fraction", "0.0..1.0"),
        ("users.choice.position_bias=linear", "users.choice.position_bias", "log, geometric"),
        ("policy.factors=0", "policy.factors", ">= 1"),
        ("train.label=views", "train.label", "click, complete"),
        ("seed=-1", "seed", "null or >= 0"),
    ],
)
def test_out_of_range_value_names_field_and_range(override: str, field: str, allowed: str) -> None:
    with pytest.raises(ConfigError) as err:
        check_job([override])
    message = str(err.value)
    assert message.startswith(field) and allowed in message
    assert "\n" not in message


def test_unknown_group_choice_lists_the_options() -> None:
    with pytest.raises(ConfigError, match="policy='nope' is not a known choice: allowed als, "):
        check_job(["policy=nope"])


def test_type_error_names_the_key() -> None:
    with pytest.raises(ConfigError, match=r"^users\.n_users: "):
        check_job(["users.n_users=many"])


def test_sweep_expands_to_every_job_and_checks_each() -> None:
    jobs = list(expand_sweep(["policy=random,popular", "seed=0,1,2"]))
    assert len(jobs) == 6 and ["policy=popular", "seed=2"] in jobs
    with pytest.raises(ConfigError, match="serving.k"):
        check_command_line(["-m", "serving.k=5,50000", "catalog=small"])


def test_seed_null_is_allowed() -> None:
    assert check_job(["seed=null"]).seed is None


@pytest.mark.parametrize(
    "args",
    [
        ["users.n_users=-5"],
        ["policy=nope"],
        ["serving.k=5000"],
        ["tick_minutes=7"],
        ["-m", "policy=random,nope"],
    ],
)
def test_cli_rejects_bad_input_cleanly(args: list[str], tmp_path: Path) -> None:
    """Exit non-zero, one line on stderr, no traceback, no run directory."""
    done = recloop(args, tmp_path, timeout=120, env={**os.environ, "HYDRA_FULL_ERROR": "0"})
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("recloop: config error: ")
    assert "Traceback" not in done.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("override", ["+foo=1", "+serving.kk=3", "~seed", "++days=3"])
def test_adding_or_deleting_keys_is_refused(override: str) -> None:
    with pytest.raises(ConfigError, match="adding or deleting keys is not supported"):
        check_command_line([override])


def test_sweeps_hydra_must_expand_are_left_to_each_job() -> None:
    check_command_line(["-m", "policy=glob(*)", "users=small"])  # no error, no traceback


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ("catalog.release_days=40000", "catalog.release_days"),
        ("days=20000", "days"),
        ("users.sessions_per_day=1e9", "users.sessions_per_day"),
        ("users.n_users=9000000", "users.n_users"),  # 9M × 2,000 items: too big a seen matrix
        ("faults.log_loss_days=[30]", "faults.log_loss_days"),  # day 30 of a 0..29 run
        ("faults.failed_nights=[0]", "faults.failed_nights"),  # night 0 builds the first model
    ],
)
def test_bounds_protect_dtypes_memory_and_fault_days(override: str, field: str) -> None:
    with pytest.raises(ConfigError, match=f"^{field}="):
        check_job([override])


def test_rollback_without_saved_models_is_refused() -> None:
    with pytest.raises(ConfigError, match="^pipeline.rollback_ctr_drop=.*save_models"):
        check_job(["pipeline.rollback_ctr_drop=0.1", "pipeline.save_models=false"])



def test_ab_test_needs_a_treatment_and_checks_its_fields() -> None:
    with pytest.raises(ConfigError, match=r"^ab.share > 0 needs a treatment policy"):
        check_job(["ab.share=0.5"])
    with pytest.raises(ConfigError, match=r"^ab.treatment.epsilon=2.0 is out of range"):
        check_job(["policy@ab.treatment=popular", "ab.share=0.5", "ab.treatment.epsilon=2.0"])
    with pytest.raises(ConfigError, match=r"^ab.training='mixed' is out of range"):
        check_job(["policy@ab.treatment=als", "ab.share=0.5", "ab.training=mixed"])
    cfg = check_job(["policy@ab.treatment=bpr", "ab.share=0.3"])
    assert cfg.ab.treatment.name == "bpr" and cfg.ab.treatment.factors > 0


def test_shadow_policy_fields_are_checked() -> None:
    with pytest.raises(ConfigError, match=r"^shadow.factors=0 is out of range"):
        check_job(["policy@shadow=als", "shadow.factors=0"])
    assert check_job(["policy@shadow=item_knn"]).shadow.name == "item_knn"


def test_leakage_switch_must_have_something_to_leak_into() -> None:
    with pytest.raises(ConfigError, match=r"^train.leakage='features' .*a two_stage policy"):
        check_job(["train.leakage=features", "policy=als"])
    with pytest.raises(ConfigError, match=r"^train.leakage='window' .*pipeline.gate=true"):
        check_job(["train.leakage=window", "pipeline.gate=false"])
    with pytest.raises(ConfigError, match=r"^train.leakage='window' .*refit_after_gate=true"):
        check_job(["train.leakage=window", "pipeline.refit_after_gate=false"])
    assert check_job(["train.leakage=features", "policy@shadow=two_stage"]).shadow.name
    assert check_job(["train.leakage=features", "policy=two_stage"]).train.leakage == "features"


def test_checks_cover_every_arm_and_reserve_table_labels() -> None:
    """The controller steers every serving arm; only the arms that serve must explore."""
    ab = ["policy.epsilon=0.1", "policy@ab.treatment=als", "controller.adaptive_epsilon=true"]
    with pytest.raises(ConfigError, match=r"^controller.adaptive_epsilon=True .*ab.treatment"):
        check_job([*ab, "ab.share=0.5"])
    check_job([*ab, "ab.share=0.0"])  # the treatment serves nobody
    with pytest.raises(ConfigError, match=r"^controller.adaptive_epsilon=True .*policy.epsilon"):
        check_job(["policy@ab.treatment=als", "ab.treatment.epsilon=0.1", "ab.share=0.5",
                   "controller.adaptive_epsilon=true"])
    check_job(["policy@ab.treatment=als", "ab.treatment.epsilon=0.1", "ab.share=1.0",
               "controller.adaptive_epsilon=true"])
    for name in ("ab", "shadow"):
        with pytest.raises(ConfigError, match=f"^arm='{name}' is out of range"):
            check_job([f"arm={name}"])


def test_optional_policies_name_their_choices_and_how_to_set_them() -> None:
    with pytest.raises(ConfigError, match=r"^policy@ab.treatment='nope' is not a known choice: "
                                          r"allowed als, "):
        check_job(["policy@ab.treatment=nope"])
    with pytest.raises(ConfigError, match=r"^ab.treatment.epsilon: .*policy@ab.treatment=<name>"):
        check_job(["ab.treatment.epsilon=0.5"])
    with pytest.raises(ConfigError, match=r"^shadow.factors: .*policy@shadow=<name>"):
        check_job(["shadow.factors=8"])
    with pytest.raises(ConfigError, match=r"^policy@shadow='null' is not a known choice"):
        check_job(["policy@shadow=null"])  # Hydra would crash on it; off is the default
