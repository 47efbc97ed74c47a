"""What a config field may hold, declared on the field itself.

A config dataclass states each field's allowed range or choices beside its default::

    n_users: int = ranged(10000, Between(1, 10_000_000, integer=True))
    position_bias: str = ranged("log", one_of("log", "geometric"))

The rule is plain data in the field's metadata; ``sim/checks.py`` walks a config's fields
(nested configs too) and turns each rule into a check, so a new policy, user behaviour or
fault brings its ranges with it. Rules that read other fields (a fault day must fall in the
run, the controller needs an explorer) stay in ``sim/checks.py``; a bound may still name a
field of the run config as a dotted path, e.g. ``Between(1, "catalog.n_items")``.

Why here: ``agents/`` and ``policies/`` both declare configs, and neither may import the
other or ``sim/``. ``conf`` is the config package both are composed from; it is already
installed and imports nothing, and this module uses the standard library only.

Why ``str`` and not ``typing.Literal`` for choices: OmegaConf 2.3 (Hydra 1.3) rejects
Literal annotations in structured configs ("Unexpected type annotation: Literal[...]"), and
an Enum would change the values written to ``config.yaml``. So a choice is a ``str`` field
whose metadata holds ``one_of(...)``.
"""

from __future__ import annotations

from dataclasses import Field, dataclass, field
from typing import Any, TypeVar

RULE = "recloop.rule"  # the metadata key under which a field keeps its rule
MAX_DAYS = 10_000  # days are logged as int16: a bound both the run and the catalog respect
MAX_USERS = 1_000_000  # 100x the default world; 10M users ran for hours before the first night

T = TypeVar("T")


@dataclass(frozen=True)
class Between:
    """A finite number in ``[lo, hi]`` (``(lo, hi]`` when ``strict``); ``hi`` may be a dotted
    path such as ``"catalog.n_items"``.

    Every numeric field states an upper bound, even a generous one: an unbounded field let
    ``1e9`` iterations hang a run and ``1e9`` spare items exhaust memory.
    """

    lo: float
    hi: float | str
    integer: bool = False
    strict: bool = False


@dataclass(frozen=True)
class AtLeast:
    """A finite number ``>= lo`` (``> lo`` when ``strict``); prefer ``Between``, which bounds
    the field from above too (a test asks every field for an upper bound)."""

    lo: float
    integer: bool = False
    strict: bool = False


@dataclass(frozen=True)
class OneOf:
    """One of the named string choices, listed in the order error messages show them."""

    choices: tuple[str, ...]


Rule = Between | AtLeast | OneOf
UNIT = Between(0.0, 1.0)  # a probability, share or rate
LOGIT = Between(-50.0, 50.0)  # a logit coefficient: exp(50) is still finite in float32


def one_of(*choices: str) -> OneOf:
    """The choices of a string field."""
    return OneOf(tuple(choices))


def ranged(default: T, rule: Rule) -> T:
    """A dataclass field with ``default`` whose allowed values ``rule`` states."""
    return field(default=default, metadata={RULE: rule})


def rule_of(spec: Field[Any]) -> Rule | None:
    """The rule declared on a dataclass field, if any."""
    return spec.metadata.get(RULE)
