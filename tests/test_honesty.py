"""Guard the honesty wall: policies see logged data and public metadata, never ground truth.

Two guards. Statically, no module under ``policies/`` except ``oracle.py`` may import
``agents`` in any form (and none may import ``sim`` or ``experiments``, which sit above
policies and hand out the world). Dynamically, a policy built the way ``sim/story.py``
builds it, then trained and asked for slates, holds nothing reachable that is a hidden-world
object or shares memory with one of the world's hidden arrays.
"""

from __future__ import annotations

import ast
import dataclasses
import re
import subprocess
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp
from contracts import make_window

from recloop import policies
from recloop.agents.catalog import Catalog
from recloop.agents.population import Population
from recloop.agents.truth import GroundTruth
from recloop.policies.base import Policy
from recloop.policies.factor import ALSConfig
from recloop.policies.oracle import OracleConfig
from recloop.policies.registry import POLICIES, make_policy
from recloop.policies.types import ItemMetadata, ServeContext
from recloop.sim.config import RunConfig
from recloop.sim.seeding import Streams
from recloop.sim.world import World, build_world

POLICIES_DIR = Path(policies.__file__).parent
ALLOWED_TO_READ_TRUTH = {"oracle.py"}
MODULE_NAME = r"{root}(\.[A-Za-z_]\w*)*"
IMPORT_CALLS = {"import_module", "__import__", "find_spec", "reload"}


# --- static guard ---------------------------------------------------------------------------


def forbidden_imports(source: str, roots: tuple[str, ...] = ("recloop.agents",)) -> list[str]:
    """Every place ``source`` imports (or names for import) a module under one of ``roots``.

    Catches ``import recloop.agents…``, ``from recloop.agents… import …`` (absolute only: a
    relative import inside ``policies`` stays in ``policies``), ``importlib.import_module`` /
    ``__import__`` calls, and any bare string literal that is exactly such a module name
    (``sys.modules["recloop.agents.catalog"]``, an aliased importer). Returns "line: what"
    strings.
    """
    pattern = re.compile("|".join(MODULE_NAME.format(root=re.escape(r)) for r in roots))
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [f"{node.lineno}: import {a.name}" for a in node.names
                      if pattern.fullmatch(a.name)]
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0 and node.module and pattern.fullmatch(node.module):
                found.append(f"{node.lineno}: from {node.module} import …")
        elif isinstance(node, ast.Call) and _call_name(node) in IMPORT_CALLS:
            found += [f"{node.lineno}: {_call_name(node)}({a.value!r})" for a in _str_args(node)
                      if pattern.fullmatch(a.value)]
        elif (isinstance(node, ast.Constant) and isinstance(node.value, str)
              and pattern.fullmatch(node.value)):
            found.append(f"{node.lineno}: string literal {node.value!r}")
    return found


def _call_name(node: ast.Call) -> str:
    func = node.func
    if isinstance(func, ast.Name):
        return func.id
    return func.attr if isinstance(func, ast.Attribute) else ""


def _str_args(node: ast.Call) -> list[ast.Constant]:
    args = [*node.args, *(kw.value for kw in node.keywords)]
    return [a for a in args if isinstance(a, ast.Constant) and isinstance(a.value, str)]


def policy_modules() -> list[Path]:
    return sorted(POLICIES_DIR.rglob("*.py"))


def test_policy_modules_are_found() -> None:
    names = {p.relative_to(POLICIES_DIR).as_posix() for p in policy_modules()}
    assert {"base.py", "simple.py", "factor.py", "oracle.py", "registry.py"} <= names


@pytest.mark.parametrize("path", policy_modules(), ids=lambda p: p.name)
def test_only_the_oracle_imports_agents(path: Path) -> None:
    found = forbidden_imports(path.read_text())
    if path.relative_to(POLICIES_DIR).as_posix() in ALLOWED_TO_READ_TRUTH:
        assert found, "the checker should see the oracle's own agents import (positive control)"
    else:
        assert not found, f"policies/{path.name} reaches ground truth: {found}"


@pytest.mark.parametrize("path", policy_modules(), ids=lambda p: p.name)
def test_only_the_registry_imports_the_oracle(path: Path) -> None:
    """The oracle module re-exports ground-truth helpers: importing it is reaching the truth."""
    found = forbidden_imports(path.read_text(), roots=("recloop.policies.oracle",))
    if path.name not in {"registry.py", "oracle.py"}:
        assert not found, f"policies/{path.name} imports the oracle: {found}"


LEARNERS = [p for p in policy_modules() if p.name not in {"oracle.py", "registry.py"}]


@pytest.mark.parametrize("path", LEARNERS, ids=lambda p: p.name)
def test_importing_a_learner_loads_no_ground_truth(path: Path) -> None:
    """In a fresh interpreter, whatever a learner pulls in transitively stays outside agents."""
    module = "recloop.policies." + ".".join(path.relative_to(POLICIES_DIR).with_suffix("").parts)
    if module.endswith("__init__"):
        module = module.rsplit(".", 1)[0]
    code = (
        "import importlib, sys\n"
        f"importlib.import_module({module!r})\n"
        "bad = sorted(m for m in sys.modules if m == 'recloop.agents'\n"
        "             or m.startswith('recloop.agents.') or m == 'recloop.policies.oracle')\n"
        "print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", f"{module} loads {out.stdout.strip()}"


def test_registry_hands_the_truth_to_the_oracle_only() -> None:
    world, streams = small_world()
    meta, truth = world.metadata(), world.truth()
    for name, spec in POLICIES.items():
        policy = make_policy(spec.config(), meta, streams.rng(name), truth)
        holds_truth = any(obj is truth for _, obj in reachable(policy))
        assert holds_truth == (name == "oracle"), name


@pytest.mark.parametrize("path", policy_modules(), ids=lambda p: p.name)
def test_no_policy_module_imports_the_engine(path: Path) -> None:
    """``sim`` and ``experiments`` hold the world; importing them would tunnel under the wall."""
    assert not forbidden_imports(path.read_text(), roots=("recloop.sim", "recloop.experiments"))


@pytest.mark.parametrize(
    "source",
    [
        "from recloop.agents.population import Population",
        "from recloop.agents import catalog",
        "import recloop.agents",
        "import recloop.agents.choice as choice",
        "import numpy as np, recloop.agents.catalog",
        "def f():\n    from recloop.agents.catalog import Catalog\n    return Catalog",
        "if TYPE_CHECKING:\n    from recloop.agents.catalog import Catalog",
        "import importlib\nmod = importlib.import_module('recloop.agents.population')",
        "from importlib import import_module\nmod = import_module(name='recloop.agents')",
        "truth = __import__('recloop.agents.catalog')",
        "import sys\ntaste = sys.modules['recloop.agents.population']",
    ],
)
def test_checker_flags_every_import_form(source: str) -> None:
    """What ``policies/factor.py`` would look like if it gained a path to ground truth."""
    factor = (POLICIES_DIR / "factor.py").read_text()
    assert len(forbidden_imports(factor + "\n" + source + "\n")) > len(forbidden_imports(factor))


@pytest.mark.parametrize(
    "source",
    [
        "from recloop.policies.base import ScoringPolicy",
        "import agentsmith\nfrom recloop.agents_helper import x",
        '"""Never read ground truth from ``agents/``: see the agents package docs."""',
        "from .agents import helper",  # relative: policies.agents, not the hidden world
        "import importlib\nmod = importlib.import_module('numpy')",
    ],
)
def test_checker_leaves_clean_sources_alone(source: str) -> None:
    assert forbidden_imports(source) == []


@pytest.mark.parametrize(
    "source", ["from recloop.policies.oracle import GroundTruth",
               "import recloop.policies.oracle as o"]
)
def test_checker_flags_the_oracle_back_door(source: str) -> None:
    assert forbidden_imports(source, roots=("recloop.policies.oracle",))


# --- dynamic guard --------------------------------------------------------------------------


def small_world() -> tuple[World, Streams]:
    cfg = RunConfig()
    cfg.users.n_users = 200
    cfg.catalog.n_items = 100
    cfg.catalog.n_genres = 5
    streams = Streams(0)
    return build_world(cfg, streams), streams


def hidden_arrays(world: World) -> dict[str, np.ndarray]:
    """Every array of the hidden world, named."""
    named: dict[str, np.ndarray] = {}
    for owner, obj in (("catalog", world.catalog), ("population", world.population)):
        for f in dataclasses.fields(obj):
            value = getattr(obj, f.name)
            if isinstance(value, np.ndarray):
                named[f"{owner}.{f.name}"] = value
    required = {"population.taste", "catalog.vectors", "catalog.quality", "catalog.appeal"}
    assert required <= set(named)
    return named


def reachable(root: object, max_depth: int = 8) -> Iterator[tuple[str, object]]:
    """(path, object) for everything reachable through attributes and containers."""
    stack: list[tuple[str, object, int]] = [("policy", root, 0)]
    visited: set[int] = set()
    while stack:
        path, obj, depth = stack.pop()
        if id(obj) in visited:
            continue
        visited.add(id(obj))
        yield path, obj
        if depth < max_depth:
            stack += [(p, child, depth + 1) for p, child in _children(path, obj)]


def _children(path: str, obj: object) -> list[tuple[str, object]]:
    if isinstance(obj, (str, bytes, int, float, complex, type(None), np.ndarray, np.generic)):
        return []
    if isinstance(obj, (types.ModuleType, type, types.FunctionType, types.BuiltinFunctionType)):
        return []
    if isinstance(obj, dict):
        return [(f"{path}[{k!r}]", v) for k, v in obj.items()] + [
            (f"{path}.keys()", k) for k in obj
        ]
    if isinstance(obj, (list, tuple, set, frozenset)):
        return [(f"{path}[{i}]", v) for i, v in enumerate(obj)]
    found: dict[str, Any] = {}
    try:
        found.update(vars(obj))
    except TypeError:
        pass
    for cls in type(obj).__mro__:
        for slot in getattr(cls, "__slots__", ()):
            if isinstance(slot, str) and hasattr(obj, slot):
                found.setdefault(slot, getattr(obj, slot))
    return [(f"{path}.{name}", value) for name, value in found.items()]


def leaks(policy: object, world: World) -> list[str]:
    """Paths from ``policy`` to hidden-world objects or memory."""
    hidden = hidden_arrays(world)
    out: list[str] = []
    for path, obj in reachable(policy):
        if isinstance(obj, (Catalog, Population, GroundTruth)):
            out.append(f"{path} is a {type(obj).__name__}")
        elif isinstance(obj, types.ModuleType) and obj.__name__.split(".")[0] == "agents":
            out.append(f"{path} is the module {obj.__name__}")
        elif isinstance(obj, np.ndarray):
            out += [f"{path} is or views {name}" for name, arr in hidden.items()
                    if obj is arr or np.shares_memory(obj, arr)]
        elif type(obj).__module__.split(".")[0] == "agents":
            out.append(f"{path} is an agents.{type(obj).__name__}")
    return out


def random_window(world: World, rng: np.random.Generator, n: int = 1500) -> Any:
    shape = (world.population.n_users, world.catalog.n_items)
    users, items = rng.integers(shape[0], size=n), rng.integers(shape[1], size=n)
    ones = np.ones(n, dtype=np.float32)
    return make_window(sp.csr_matrix((ones, (users, items)), shape=shape), day=3)


def policy_config(name: str) -> Any:
    return ALSConfig(factors=8, iterations=5) if name == "als" else POLICIES[name].config()


def exercised(name: str) -> tuple[Policy, World]:
    """A policy built like ``sim/story.py`` does, fitted (empty, then real) and served."""
    world, streams = small_world()
    cfg = policy_config(name)
    policy = make_policy(cfg, world.metadata(), streams.rng("policy"), world.truth())
    policy.fit(make_window(sp.csr_matrix((world.population.n_users, world.catalog.n_items)), 0))
    window = random_window(world, np.random.default_rng(5))
    policy.fit(window)
    seen = window.interactions.toarray() > 0
    ctx = ServeContext(day=3, hour=20.0, available=world.catalog.available(3), seen=seen)
    policy.recommend(np.arange(world.population.n_users), 10, ctx)
    return policy, world


HONEST = sorted(name for name in POLICIES if name != "oracle")


def test_every_registered_policy_is_checked() -> None:
    assert {"random", "popular", "item_knn", "als"} <= set(HONEST)


@pytest.mark.parametrize("name", HONEST)
def test_policy_holds_no_ground_truth(name: str) -> None:
    policy, world = exercised(name)
    assert leaks(policy, world) == []


def test_walker_finds_truth_in_the_oracle() -> None:
    """Positive control: the oracle does hold the truth, and the walker must see it."""
    world, streams = small_world()
    oracle = make_policy(OracleConfig(), world.metadata(), streams.rng("policy"), world.truth())
    found = leaks(oracle, world)
    assert any("GroundTruth" in f for f in found)
    assert any("population.taste" in f for f in found)


def test_walker_finds_a_hidden_view_buried_in_containers() -> None:
    """Positive control: a slice of the tastes tucked inside a dict of tuples is a leak."""
    policy, world = exercised("popular")
    policy.cache_ = {"warm": [(1, world.population.taste[:10])]}  # type: ignore[attr-defined]
    assert leaks(policy, world) == ["policy.cache_['warm'][0][1] is or views population.taste"]


def test_metadata_is_only_genre_and_release_day_copies() -> None:
    world, _ = small_world()
    meta = world.metadata()
    assert [f.name for f in dataclasses.fields(ItemMetadata)] == ["genre", "release_day"]
    assert set(vars(meta)) == {"genre", "release_day"}
    np.testing.assert_array_equal(meta.genre, world.catalog.genre)
    np.testing.assert_array_equal(meta.release_day, world.catalog.release_day)
    for name, arr in hidden_arrays(world).items():
        for public in (meta.genre, meta.release_day):
            assert not np.shares_memory(public, arr), f"metadata aliases {name}"
    meta.genre[:] = -1  # scribbling on the public copy leaves the world alone
    assert (world.catalog.genre >= 0).all()
