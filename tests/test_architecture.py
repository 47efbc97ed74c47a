"""The house's walls: which rooms may import which, and no import cycles inside ``sim/``.

Imports are read statically (``ast``), including those under ``TYPE_CHECKING``, so a cycle
cannot hide behind a type-only import.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MEASURED = tuple(f"recloop.sim.{name}" for name in (
    "pipeline", "assignment", "engine", "serving_arm", "shadow", "state", "service", "story",
    "assemble", "ab_readout", "rounds"))


def module_name(path: Path) -> str:
    """``sim/metrics/daily.py`` → ``recloop.sim.metrics.daily`` (the installed name)."""
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(["recloop", *(parts[:-1] if parts[-1] == "__init__" else parts)])


def imports_of(path: Path) -> set[str]:
    """Absolute names of every module ``path`` imports (``from a import b`` gives a and a.b)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
    return names


def graph(room: str) -> dict[str, set[str]]:
    """Module → the modules of the same room it imports."""
    modules = {module_name(p): p for p in (ROOT / room).rglob("*.py")}
    return {name: imports_of(path) & modules.keys() for name, path in modules.items()}


def cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One import cycle, as a path of modules, or None (depth-first, three colours)."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges[node]):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    return next((found for node in sorted(edges) if node not in state
                 if (found := visit(node))), None)


def test_no_import_cycles_inside_sim() -> None:
    assert cycle(graph("sim")) is None, f"import cycle: {' -> '.join(cycle(graph('sim')) or [])}"


def test_cycle_finder_finds_a_planted_cycle() -> None:
    assert cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert cycle({"a": {"b"}, "b": set()}) is None


@pytest.mark.parametrize("path", sorted((ROOT / "sim" / "metrics").glob("*.py")),
                         ids=lambda p: p.name)
def test_metrics_read_plain_data_never_what_they_measure(path: Path) -> None:
    reached = {name for name in imports_of(path) for banned in MEASURED
               if name == banned or name.startswith(banned + ".")}
    assert not reached, f"{path.name} imports {sorted(reached)}"


@pytest.mark.parametrize("path", sorted((ROOT / "agents").glob("*.py")), ids=lambda p: p.name)
def test_agents_import_no_room_above_them(path: Path) -> None:
    above = {n for n in imports_of(path)
             if n.split(".")[:2] in (["recloop", "sim"], ["recloop", "policies"],
                                     ["recloop", "experiments"])}
    assert not above, f"{path.name} imports {sorted(above)}"
