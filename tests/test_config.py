"""Bad input stops the run before simulating, with one line naming the field and range."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from dataclasses import dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any

import pytest
from conftest import recloop

from recloop.conf import ranges as declared_ranges
from recloop.conf.ranges import UNIT, Between, OneOf, one_of, ranged, rule_of
from recloop.experiments.preflight import check_command_line, check_job, expand_sweep
from recloop.policies.config import PolicyConfig
from recloop.policies.factor import ALSConfig, BPRConfig
from recloop.policies.registry import POLICIES, PolicySpec
from recloop.policies.simple import PopularConfig, RandomPolicy
from recloop.sim.checks import CROSS_FIELD, POLICY_SLOTS, field_rules, policy_rules, validate
from recloop.sim.config import ABConfig, ConfigError, RunConfig


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
        ("users.n_users=-5", "users.n_users", "an integer in 1..1000000"),
        ("serving.k=5000", "serving.k", "1..2000 (catalog.n_items)"),
        ("tick_minutes=7", "tick_minutes", "divisor of 1440"),
        ("days=0", "days", "an integer in 1..10000"),
        ("users.niche_fraction=1.5", "users.niche_fraction", "0.0..1.0"),
        ("users.choice.position_bias=linear", "users.choice.position_bias", "log, geometric"),
        ("policy.factors=0", "policy.factors", "an integer in 1..1024"),
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


def test_bpr_threads_are_pinned_for_reproducibility() -> None:
    """Lock-free parallel SGD races on shared factors: one seed, two different runs."""
    with pytest.raises(ConfigError, match=r"policy.threads=2 is out of range: allowed an integer in 1..1"):
        check_job(["policy=bpr", "policy.threads=2"])
    assert check_job(["policy=als", "policy.threads=2"]).policy.threads == 2


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


def test_a_sweep_preset_without_multirun_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"is a sweep \(over policy.epsilon, seed\): run it "
                                          r"with -m"):
        check_command_line(["experiment=exploration_fix", "users=small"])
    check_command_line(["-m", "experiment=exploration_fix", "users=small", "catalog=small"])
    check_command_line(["users=small", "catalog=small", "days=2"])  # no preset: one run


def test_sweeps_hydra_must_expand_are_left_to_each_job() -> None:
    check_command_line(["-m", "policy=glob(*)", "users=small"])  # no error, no traceback


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ("catalog.release_days=40000", "catalog.release_days"),
        ("days=20000", "days"),
        ("users.sessions_per_day=1e9", "users.sessions_per_day"),
        ("users.n_users=40000000", "users.n_users"),  # 40M × 2,000 items: 10 GB of watched bits
        ("faults.log_loss_days=[30]", "faults.log_loss_days"),  # day 30 of a 0..29 run
        ("faults.failed_nights=[0]", "faults.failed_nights"),  # night 0 builds the first model
    ],
)
def test_bounds_protect_dtypes_memory_and_fault_days(override: str, field: str) -> None:
    with pytest.raises(ConfigError, match=f"^{field}="):
        check_job([override])


def test_rollback_without_saved_models_is_refused() -> None:
    with pytest.raises(ConfigError, match="^pipeline.rollback_ctr_drop=.*keep_models"):
        check_job(["pipeline.rollback_ctr_drop=0.1", "pipeline.keep_models=none"])



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
    for name in ("ab", "shadow", "holdout", "holdout_monitor", "churn"):
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


# --- ranges declared on the fields themselves (conf/ranges.py), walked by sim/checks.py ------

# Every path the central tables of sim/checks.py (RULES, COMMON_POLICY_RULES, POLICY_RULES)
# checked before each config declared its own ranges: each must still be checked.
RUN_RULE_PATHS_BEFORE = [
    "seed", "days", "tick_minutes", "complete_at", "users.n_users", "users.niche_fraction",
    "users.favourite_genres", "users.taste_noise", "users.sessions_per_day",
    "users.activity_sigma", "users.satisfaction_init", "users.satisfaction_rate",
    "users.idle_value", "users.churn_base", "users.churn_sensitivity",
    "users.choice.position_bias", "users.choice.geometric_decay",
    "users.choice.completion_concentration", "catalog.n_items", "catalog.n_genres",
    "catalog.genre_skew", "catalog.latent_dim", "catalog.genre_spread", "catalog.quality_sd",
    "catalog.clickbait_fraction", "catalog.initial_fraction", "catalog.release_days",
    "serving.name", "serving.hybrid_candidates", "serving.k", "serving.spare",
    "train.window_days", "train.label", "traffic.diurnal_amplitude", "traffic.peak_hour",
    "pipeline.gate_metric", "pipeline.gate_ratio", "pipeline.gate_baseline",
    "pipeline.gate_history", "pipeline.eval_users", "pipeline.rollback_ctr_drop",
    "pipeline.validation.max_null_rate", "pipeline.validation.volume_low",
    "pipeline.validation.volume_high", "pipeline.validation.trailing_days",
    "faults.outage_rate", "faults.outage_hours", "faults.nightly_failure_rate",
    "faults.log_loss_fraction", "faults.failed_nights", "faults.log_loss_days",
    "controller.adaptive_epsilon", "arm", "controller.target_top1_share", "controller.step",
    "controller.min_epsilon", "controller.max_epsilon", "train.leakage", "ab.share",
    "ab.training",
]
COMMON_POLICY_PATHS_BEFORE = ["name", "epsilon", "diversity", "similarity", "genre_cap",
                              "fresh_slots", "fresh_days", "candidates"]
FACTOR_PATHS_BEFORE = ["factors", "regularization", "iterations", "threads"]
POLICY_RULE_PATHS_BEFORE = {
    "random": [],
    "popular": [],
    "oracle": [],
    "item_knn": ["neighbours"],
    "als": [*FACTOR_PATHS_BEFORE, "alpha"],
    "bpr": [*FACTOR_PATHS_BEFORE, "learning_rate"],
    "two_stage": [*FACTOR_PATHS_BEFORE, "alpha", "retrieve", "ranker.iterations",
                  "ranker.learning_rate", "ranker.leaves", "ranker.bins", "ranker.min_positives"],
}


def test_every_field_checked_before_still_has_a_rule() -> None:
    assert set(field_rules(RunConfig(), skip=POLICY_SLOTS)) >= set(RUN_RULE_PATHS_BEFORE)
    assert set(POLICY_RULE_PATHS_BEFORE) == set(POLICIES)
    for name, own in POLICY_RULE_PATHS_BEFORE.items():
        before = {f"policy.{p}" for p in [*COMMON_POLICY_PATHS_BEFORE, *own]}
        assert set(policy_rules("policy", POLICIES[name].config())) >= before, name


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["users.favourite_genres=50"],
         ("users.favourite_genres=50 is out of range: allowed an integer in 1..20 "
         "(catalog.n_genres)")),
        (["users.choice.completion_concentration=0"],
         "users.choice.completion_concentration=0.0 is out of range: allowed a number > 0 and <= 1000"),
        (["catalog.initial_fraction=0"],
         "catalog.initial_fraction=0.0 is out of range: allowed a number in 0.001..1.0"),
        (["serving.name=stream"],
         "serving.name='stream' is out of range: allowed one of batch, realtime, hybrid"),
        (["traffic.peak_hour=25"],
         "traffic.peak_hour=25.0 is out of range: allowed a number in 0.0..24.0"),
        (["pipeline.validation.volume_high=0"],
         "pipeline.validation.volume_high=0.0 is out of range: allowed a number > 0 and <= 1000"),
        (["controller.step=1"],
         "controller.step=1.0 is out of range: allowed a number > 1 and <= 100"),
        (["policy=bpr", "policy.learning_rate=0"],
         "policy.learning_rate=0.0 is out of range: allowed a number > 0 and <= 1"),
        (["policy=two_stage", "policy.retrieve=5000"],
         "policy.retrieve=5000 is out of range: allowed an integer in 1..2000 (catalog.n_items)"),
        (["policy@shadow=two_stage", "shadow.ranker.bins=300"],
         "shadow.ranker.bins=300 is out of range: allowed an integer in 2..255"),
    ],
)
def test_declared_ranges_give_the_same_messages_as_the_old_table(
    overrides: list[str], message: str
) -> None:
    """Messages captured from the central table before the move, word for word."""
    with pytest.raises(ConfigError) as err:
        check_job(overrides)
    assert str(err.value) == message


@dataclass
class ToyInner:
    rate: float = ranged(0.5, UNIT)


@dataclass
class ToyConfig(PolicyConfig):
    """A policy config sim/checks.py has never heard of."""

    name: str = "toy"
    depth: int = ranged(3, Between(1, "catalog.n_items", integer=True))
    mode: str = ranged("fast", one_of("fast", "slow"))
    inner: ToyInner = field(default_factory=ToyInner)


@pytest.fixture
def toy_registered(monkeypatch: pytest.MonkeyPatch) -> None:
    """Registering is the one step besides the module: the policy's name must be a choice."""
    monkeypatch.setitem(POLICIES, "toy", PolicySpec(ToyConfig, RandomPolicy))


@pytest.mark.parametrize(
    ("toy", "message"),
    [
        (ToyConfig(depth=0),
         "policy.depth=0 is out of range: allowed an integer in 1..2000 (catalog.n_items)"),
        (ToyConfig(mode="medium"),
         "policy.mode='medium' is out of range: allowed one of fast, slow"),
        (ToyConfig(inner=ToyInner(rate=2.0)),
         "policy.inner.rate=2.0 is out of range: allowed a number in 0.0..1.0"),
        (ToyConfig(epsilon=1.5),  # the inherited wrapper knobs come with it
         "policy.epsilon=1.5 is out of range: allowed a number in 0.0..1.0"),
    ],
)
def test_a_new_policy_is_checked_by_its_own_declared_fields(
    toy_registered: None, toy: ToyConfig, message: str
) -> None:
    validate(RunConfig(policy=ToyConfig()))
    with pytest.raises(ConfigError) as err:
        validate(RunConfig(policy=toy))
    assert str(err.value) == message


def test_a_new_policy_is_checked_in_every_slot(toy_registered: None) -> None:
    with pytest.raises(ConfigError, match=r"^shadow\.depth=0 is out of range"):
        validate(RunConfig(policy=PopularConfig(), shadow=ToyConfig(depth=0)))
    treatment = ABConfig(share=0.5, treatment=ToyConfig(mode="x"))
    with pytest.raises(ConfigError, match=r"^ab\.treatment\.mode='x' is out of range"):
        validate(RunConfig(policy=PopularConfig(), ab=treatment))


def test_policy_rules_are_those_of_the_chosen_policy_only() -> None:
    als, bpr = set(policy_rules("policy", ALSConfig())), set(policy_rules("policy", BPRConfig()))
    assert "policy.alpha" in als and "policy.alpha" not in bpr
    assert "policy.learning_rate" in bpr and "policy.learning_rate" not in als
    unused = ABConfig(share=0.0, treatment=BPRConfig(factors=0))  # serves nobody: unchecked
    validate(RunConfig(policy=ALSConfig(), ab=unused))


def test_first_error_is_the_policy_then_the_run_in_declaration_order() -> None:
    both = RunConfig(policy=ALSConfig(factors=0, alpha=0), days=0)
    with pytest.raises(ConfigError, match=r"^policy\.factors=0 "):
        validate(both)
    users = RunConfig(policy=ALSConfig(), days=0)
    users.users.choice.position_bias = "linear"
    with pytest.raises(ConfigError, match=r"^days=0 "):
        validate(users)


def test_cross_field_rules_name_real_fields() -> None:
    rules = field_rules(RunConfig(), skip=POLICY_SLOTS)
    assert [path for path in CROSS_FIELD if path not in rules] == []


def config_classes() -> list[type]:
    """Every config dataclass reachable from the run's root and the registered policies."""
    found: list[type] = []
    todo: list[Any] = [RunConfig(), *(spec.config() for spec in POLICIES.values())]
    while todo:
        node = todo.pop()
        if type(node) not in found:
            found.append(type(node))
        todo += [v for f in fields(node) if is_dataclass(v := getattr(node, f.name))]
    return found


@pytest.mark.parametrize("cls", config_classes(), ids=lambda c: c.__name__)
def test_declared_choices_are_str_fields_holding_their_default(cls: type) -> None:
    """Choices stay ``str`` (OmegaConf 2.3 rejects Literal); the default must be a choice."""
    for spec in fields(cls):
        rule = rule_of(spec)
        if isinstance(rule, OneOf):
            where = f"{cls.__name__}.{spec.name}"
            assert spec.type == "str", where
            assert getattr(cls(), spec.name) in rule.choices, where


@pytest.mark.parametrize("name", sorted(POLICIES))
def test_every_policy_default_is_within_its_declared_ranges(name: str) -> None:
    validate(RunConfig(policy=POLICIES[name].config()))


def test_ranges_module_needs_only_the_standard_library() -> None:
    """agents/ and policies/ import it, so it must not pull in sim/ or anything else."""
    tree = ast.parse(Path(declared_ranges.__file__).read_text())
    roots = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import)
             for a in n.names}
    roots |= {n.module.split(".")[0] for n in ast.walk(tree)
              if isinstance(n, ast.ImportFrom) and n.module}
    assert roots <= set(sys.stdlib_module_names) | {"__future__"}, roots


CONFIG_MODULES = [f"recloop.{name}" for name in (
    "sim.config", "sim.checks", "sim.faults", "sim.controllers", "sim.serving", "sim.traffic",
    "sim.window", "sim.pipeline.validation", "sim.pipeline.config", "sim.churn_model")]
FRESH_IMPORTS = """
import importlib, sys
for name in sys.argv[1:]:
    for loaded in [m for m in sys.modules if m.split(".")[0] in {"sim", "agents", "policies"}]:
        del sys.modules[loaded]
    importlib.import_module(name)
    importlib.import_module("recloop.sim.config")
"""


def test_config_modules_import_first_without_cycles() -> None:
    """sim/config.py imports the modules that own configs: none may import it back."""
    done = subprocess.run([sys.executable, "-c", FRESH_IMPORTS, *CONFIG_MODULES],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
