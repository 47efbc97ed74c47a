"""``recloop --help``: the groups a run is composed from and the fields most runs change.

Hydra's own help lists every field without a word on any, and the schemas it keeps for
each policy (``base_<name>``) as if they were choices; this page names what a newcomer
needs, with each field's default and allowed range, and points to the full listing.
"""

from __future__ import annotations

import textwrap
from dataclasses import fields, is_dataclass
from typing import Any

from recloop.conf.ranges import AtLeast, Between, OneOf, Rule, rule_of
from recloop.experiments.preflight import CONF_DIR, group_options
from recloop.policies.factor import ALSConfig
from recloop.sim.config import RunConfig

# The fields most runs change, with one line each (tests check that every path exists).
MAIN_FIELDS = {
    "seed": "root seed: same config and seed, identical metrics (null: fresh entropy)",
    "days": "simulated days",
    "users.n_users": "users at the start (sign-ups join each night)",
    "catalog.n_items": "titles in the catalog",
    "serving.k": "slate size",
    "policy.epsilon": "share of slots explored at random (exact propensities logged)",
    "train.window_days": "days of log each nightly fit reads",
    "train.label": "what the nightly fit learns from: clicks or completed watches",
    "pipeline.gate": "deploy a candidate only if it matches a most-popular ranking offline",
    "users.organic.per_session": "plays users find outside the recommender, per session",
    "users.continuation.after_watch": "chance of asking for another slate after a watch",
    "common_random_numbers": "users' draws keyed by (seed, user, day): paired comparisons",
    "progress": "a progress bar per run",
}
EXAMPLES = (
    "recloop policy=bpr days=60                    # one run",
    "recloop -m policy.epsilon=0,0.05,0.1 seed=0,1,2  # a sweep: nine runs",
    "recloop -m experiment=exploration_fix         # a preset sweep (conf/experiment/)",
    "recloop-report multirun/<date>/<time>         # compare a sweep's runs",
    "recloop --config-dir myconf policy=newest     # your own policy (README: Your own policy)",
)


def help_text() -> str:
    """The page ``recloop --help`` prints."""
    names = sorted(p.name for p in CONF_DIR.iterdir()
                   if p.is_dir() and p.name not in ("hydra", "__pycache__"))
    groups = [textwrap.fill(", ".join(group_options(g)), 88, initial_indent=f"  {g:<11} ",
                            subsequent_indent=" " * 14) for g in names]
    defaults = RunConfig(policy=ALSConfig())
    main = [f"  {path:<31} {line}\n  {'':<31} {_allowed(defaults, path)}"
            for path, line in MAIN_FIELDS.items()]
    return "\n".join([
        "recloop: simulate a recommender's feedback loop and write a report.",
        "",
        "Usage: recloop [-m] [group=option ...] [field=value ...]",
        "",
        "Groups (group=option):", *groups,
        "",
        "Fields most runs change (field=value):", *main,
        "",
        "Examples:", *(f"  {e}" for e in EXAMPLES),
        "",
        "Every field with its value: recloop --cfg job. Hydra's own flags: recloop --hydra-help.",
    ])


def field_spec(node: Any, path: str) -> tuple[Any, Rule | None]:
    """(default, declared rule) of the dotted ``path`` under the config ``node``."""
    head, _, rest = path.partition(".")
    spec = next((f for f in fields(node) if f.name == head), None)
    if spec is None:
        raise KeyError(path)
    value = getattr(node, head)
    if rest:
        if not is_dataclass(value):
            raise KeyError(path)
        return field_spec(value, rest)
    return value, rule_of(spec)


def _allowed(node: Any, path: str) -> str:
    value, rule = field_spec(node, path)
    return f"default {value}" + ("" if rule is None else f"; {_rule_text(rule)}")


def _rule_text(rule: Rule) -> str:
    if isinstance(rule, OneOf):
        return "one of " + ", ".join(rule.choices)
    kind = "an integer" if rule.integer else "a number"
    if isinstance(rule, Between):
        return f"{kind} in {'(' if rule.strict else '['}{_number(rule.lo)}, {_number(rule.hi)}]"
    assert isinstance(rule, AtLeast)
    return f"{kind} {'>' if rule.strict else '>='} {_number(rule.lo)}"


def _number(x: float | str) -> str:
    """10000000 as 10,000,000; 0.5 as 0.5; a dotted path as itself."""
    if isinstance(x, str):
        return x
    return f"{int(x):,}" if float(x).is_integer() else f"{x:g}"
