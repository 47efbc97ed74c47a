"""Random override sets over the whole typed config schema: a one-line error naming a field,
or a config that is sane (and, for a few, a tiny run that completes) – never a traceback.

The schema is walked from the config dataclasses and their declared ranges, so a new field
is fuzzed without an edit here. Values mix valid ones with the bad kinds that once slipped
through: NaN and ±inf, negatives, huge numbers, wrong types (``pipeline.gate=2``).
"""

from __future__ import annotations

import math
import re
import typing
from dataclasses import dataclass, fields, is_dataclass
from pathlib import Path
from typing import Any

import pytest
from conftest import SMALL
from hydra.core.override_parser.overrides_parser import OverridesParser
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recloop.conf.ranges import AtLeast, Between, OneOf, Rule, rule_of
from recloop.experiments.api import run
from recloop.experiments.preflight import check_command_line, check_job
from recloop.policies.registry import POLICIES
from recloop.sim.checks import lookup
from recloop.sim.config import ConfigError, RunConfig
from recloop.sim.metrics.catalogue import CTR

CONFIG_EXAMPLES = 100  # the quick suite's budget (about 30 s); the slow suite tries more
CONFIG_EXAMPLES_SLOW = 600
RUN_EXAMPLES = 8
TINY = [*SMALL, "days=2", "pipeline.keep_models=none"]
BASE = check_job(TINY)  # resolves bounds such as "catalog.n_items" for drawing values
WORLD_SIZE = {"users.n_users", "catalog.n_items", "days", "catalog.release_days",
              "users.visits.signups_per_day", "pipeline.eval_users"}  # the tiny world's job


@dataclass(frozen=True)
class Leaf:
    """One overridable field: its dotted path, declared type and declared rule."""

    path: str
    kind: Any
    rule: Rule | None


def leaves(node: Any, prefix: str) -> list[Leaf]:
    """Every leaf field under a config dataclass, nested configs walked in place."""
    out: list[Leaf] = []
    hints = typing.get_type_hints(type(node))
    for spec in fields(node):
        path, value = f"{prefix}{spec.name}", getattr(node, spec.name)
        if is_dataclass(value):
            out += leaves(value, path + ".")
        elif hints[spec.name] is not Any and spec.name != "name":
            out.append(Leaf(path, hints[spec.name], rule_of(spec)))
    return out


RUN_LEAVES = [leaf for leaf in leaves(RunConfig(), "")
              if not leaf.path.endswith(("path", "salt", "source"))]  # files, labels
POLICY_LEAVES = {name: leaves(spec.config(), "policy.") for name, spec in POLICIES.items()}
KNOWN = {leaf.path for leaf in RUN_LEAVES} | {
    leaf.path for group in POLICY_LEAVES.values() for leaf in group} | {
    "policy", "ab.share", "ab.treatment", "shadow", "seed"}

BAD_NUMBERS = ["nan", "inf", "-inf", "-1", "-1e9", "1e12", "1000000000000000", "1e308"]
WRONG_TYPES = ["true", "false", "abc", "1.5", "[1]"]
KIND_MISFITS = {"bool": ["0", "1", "2", "-1", "yes", "off", "null"],
                "int": ["1.5", "true", "1e3", "null"], "float": ["true", "abc", "null"],
                "choice": ["", "LOG", "null", "1"], "list": ["[true]", "[1.5]", "1", "abc"]}


def bounds(rule: Rule) -> tuple[float, float]:
    """A rule's numeric range on the tiny world (a path bound read from it)."""
    if isinstance(rule, Between):
        hi = lookup(BASE, rule.hi) if isinstance(rule.hi, str) else rule.hi
        return float(rule.lo), float(hi)
    assert isinstance(rule, AtLeast)
    return float(rule.lo), float(rule.lo) + 100.0


def valid_value(leaf: Leaf, modest: bool) -> st.SearchStrategy[str]:
    """Values inside the declared rule (``modest``: near the low end, to keep runs short)."""
    if isinstance(leaf.rule, OneOf):
        return st.sampled_from(leaf.rule.choices)
    if leaf.kind is bool:
        return st.sampled_from(["true", "false"])
    if leaf.rule is None:
        return st.just("[]") if typing.get_origin(leaf.kind) is list else st.integers(0, 9).map(str)
    lo, hi = bounds(leaf.rule)
    if modest:
        hi = min(hi, lo + 4)
    if leaf.rule.integer:  # type: ignore[union-attr]
        return st.integers(math.ceil(lo), math.floor(hi)).map(str)
    return st.floats(lo, hi, allow_nan=False).map(repr)


def any_value(leaf: Leaf) -> st.SearchStrategy[str]:
    """Valid, just outside the range, non-finite, negative, huge, or of the wrong type."""
    options = [valid_value(leaf, modest=False), st.sampled_from(BAD_NUMBERS),
               st.sampled_from(WRONG_TYPES)]
    if isinstance(leaf.rule, (Between, AtLeast)):
        lo, hi = bounds(leaf.rule)
        options.append(st.sampled_from([repr(lo - 1), repr(hi + 1), repr(hi * 10 + 1)]))
    if typing.get_origin(leaf.kind) is list:
        options.append(st.sampled_from(["[1]", "[0,1]", "[-1]", "[1000000]", "[nan]"]))
    options.append(st.sampled_from(KIND_MISFITS.get(kind_of(leaf), WRONG_TYPES)))
    return st.one_of(options)


def kind_of(leaf: Leaf) -> str:
    if isinstance(leaf.rule, OneOf):
        return "choice"
    if typing.get_origin(leaf.kind) is list:
        return "list"
    return {bool: "bool", int: "int", float: "float"}.get(leaf.kind, "other")


@st.composite
def override_sets(draw: st.DrawFn, valid_only: bool = False) -> list[str]:
    """A policy, then one to four field overrides drawn over the whole schema: all valid,
    or one bad value of any kind among valid ones (so no other error hides it). The bad
    field's kind (bool, int, float, choice, list) is drawn first, so rare kinds get turns."""
    name = draw(st.sampled_from(sorted(POLICIES)))
    pool = RUN_LEAVES + POLICY_LEAVES[name]
    if valid_only:
        pool = [leaf for leaf in pool if leaf.path not in WORLD_SIZE
                and (leaf.rule is not None or leaf.kind is bool)]
    overrides = [f"policy={name}"]
    if not valid_only and draw(st.booleans()):
        kind = draw(st.sampled_from(sorted({kind_of(leaf) for leaf in pool})))
        odd = draw(st.sampled_from([leaf for leaf in pool if kind_of(leaf) == kind]))
        overrides.append(f"{odd.path}={draw(any_value(odd))}")
        pool = [leaf for leaf in pool if leaf.path != odd.path]
    chosen = draw(st.lists(st.sampled_from(pool), min_size=1, max_size=3,
                           unique_by=lambda leaf: leaf.path))
    return overrides + [f"{leaf.path}={draw(valid_value(leaf, modest=valid_only))}"
                        for leaf in chosen]


def names_a_field(message: str, overrides: list[str]) -> bool:
    """The message opens with a config path (or an override's key)."""
    head = re.split(r"[=:\[ ]", message, maxsplit=1)[0]
    return head in KNOWN or head in {o.split("=")[0] for o in overrides}


def sane(cfg: Any, path: str = "") -> list[str]:
    """Paths of numbers in an accepted config that no run can use (NaN, ±inf, a bool as int)."""
    bad: list[str] = []
    for spec in fields(cfg) if is_dataclass(cfg) else ():
        value, where = getattr(cfg, spec.name), f"{path}{spec.name}"
        if is_dataclass(value):
            bad += sane(value, where + ".")
        elif isinstance(value, float) and not math.isfinite(value):
            bad.append(where)
    return bad


def not_as_asked(cfg: RunConfig, overrides: list[str]) -> list[str]:
    """Overrides an accepted config holds a different value of (``pipeline.gate=2`` read
    as true): accepted values must be taken as given, not coerced."""
    changed: list[str] = []
    for override in OverridesParser.create().parse_overrides(overrides):
        path, asked = override.key_or_group, override.value()
        if path not in KNOWN or path == "policy":
            continue
        held = lookup(cfg, path)
        same_kind = isinstance(held, bool) == isinstance(asked, bool)
        if isinstance(held, (int, float)) and isinstance(asked, (int, float)):
            same = same_kind and float(held) == float(asked)
        else:
            same = same_kind and str(held) == str(asked)
        if not same:
            changed.append(f"{path}={asked!r} held as {held!r}")
    return changed


def fuzz_the_checks(examples: int) -> None:
    """Draw ``examples`` override sets (seeded); each is refused in one line naming a field
    or accepted as a sane config holding exactly what was asked."""
    outcomes: dict[str, int] = {"accepted": 0, "refused": 0}

    @settings(max_examples=examples, derandomize=True, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow])
    @given(override_sets())
    def one_line_or_sane(overrides: list[str]) -> None:
        try:
            check_command_line([*TINY, *overrides])
        except ConfigError as err:
            message = str(err)
            assert "\n" not in message and names_a_field(message, overrides), message
            outcomes["refused"] += 1
            return
        cfg = check_job([*TINY, *overrides])
        assert sane(cfg) == [] and not_as_asked(cfg, overrides) == [], overrides
        outcomes["accepted"] += 1

    one_line_or_sane()
    print(f"override sets tried: {sum(outcomes.values())} {outcomes}")
    assert sum(outcomes.values()) >= examples  # the budget was spent, not skipped
    assert min(outcomes.values()) > examples // 10  # both outcomes well exercised


def test_random_override_sets_give_a_field_error_or_a_sane_config() -> None:
    fuzz_the_checks(CONFIG_EXAMPLES)


@pytest.mark.slow
def test_many_random_override_sets_give_a_field_error_or_a_sane_config() -> None:
    fuzz_the_checks(CONFIG_EXAMPLES_SLOW)


@pytest.mark.slow
def test_random_valid_override_sets_run_to_completion(tmp_path: Path) -> None:
    """A few accepted draws, each on the tiny world: the run completes with a sane CTR."""
    tried: list[list[str]] = []

    @settings(max_examples=RUN_EXAMPLES, derandomize=True, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
    @given(override_sets(valid_only=True))
    def completes(overrides: list[str]) -> None:
        try:
            cfg = check_job([*TINY, *overrides])
        except ConfigError as err:  # cross-field rules: a one-line refusal is fine too
            assert "\n" not in str(err) and names_a_field(str(err), overrides), str(err)
            return
        tried.append(overrides)
        result = run(cfg, tmp_path / f"run{len(tried)}")
        ctr = result.metrics.loc[result.metrics.metric == CTR, "value"]
        assert len(ctr) > 0 and ctr.between(0, 1).all(), overrides

    completes()
    print(f"runs completed: {len(tried)}: {tried}")
    assert tried  # at least one draw was accepted and run
