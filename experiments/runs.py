"""Find finished run directories and load what a cross-run report needs from them.

A run directory is finished when its ``run.json`` says ``"status": "complete"`` (it is
written last). Runs are grouped into *variants* by their Hydra overrides minus ``seed``,
so seeds of one configuration become repeated measurements of the same thing. Loading
reads only the columns it needs: item exposure comes from the ``item`` column of the log
partitions, which keeps a 30-day, 3M-impression run to well under a second.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from tqdm.auto import tqdm

from recloop.experiments.exposure import item_exposure, missing_log_days
from recloop.experiments.lock import live_holder
from recloop.policies.base import Policy
from recloop.sim.checkpoint import CHECKPOINT
from recloop.sim.pipeline.registry import load_model, read_registry

SEED_KEY = "seed"
PROGRESS_MIN_RUNS = 8  # below this a progress bar is only noise


@dataclass(frozen=True)
class Skipped:
    """A run directory left out of the report, and why."""

    path: Path
    reason: str


@dataclass
class Run:
    """What the report reads from one finished run directory."""

    path: Path
    summary: dict[str, object]
    overrides: dict[str, str]
    metrics: pd.DataFrame
    registry: pd.DataFrame
    n_items: int
    exposure_final: np.ndarray  # impressions per item on the last logged day
    exposure_total: np.ndarray  # impressions per item over the whole run
    variant: str = field(default="")
    config: dict = field(default_factory=dict)  # the run's config.yaml, as run
    missing_days: list[int] = field(default_factory=list)  # log partitions not on disk
    items: pd.DataFrame = field(default_factory=pd.DataFrame)  # item, genre, release_day

    def log(self, days: Iterable[int] | None = None,
            columns: Sequence[str] | None = None) -> pd.DataFrame:
        """The impression log (and organic plays) of ``days`` (every logged day when None)."""
        parts = sorted((self.path / "log").glob("day=*.parquet"))
        if days is not None:
            wanted = {int(d) for d in days}
            parts = [p for p in parts if int(p.stem.partition("=")[2]) in wanted]
        frames = [pd.read_parquet(p, columns=columns) for p in parts]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)

    def model(self, version: int, arm: str | None = None) -> Policy:
        """The saved model of ``version`` (of ``arm`` when the run has several)."""
        reg = self.registry
        rows = reg[(reg["version"] == version) & ((reg["arm"] == arm) if arm else True)]
        if rows.empty or not rows["artifact"].iloc[0]:
            raise FileNotFoundError(f"{self.path}: no saved model v{version}"
                                    + (f" of arm {arm}" if arm else ""))
        return load_model(self.path / rows["artifact"].iloc[0])


def find_runs(root: Path) -> tuple[list[Path], list[Skipped]]:
    """Finished run directories below ``root`` (or ``root`` itself), and the ones skipped.

    A directory counts as a run if it has a ``run.json`` or a Hydra ``.hydra/overrides.yaml``;
    one without ``run.json`` is still running (its ``run.lock`` names a live process) or
    was killed (reported as interrupted), so it is skipped, as are failed and unreadable ones.
    """
    root = Path(root)
    candidates = {p.parent for p in root.rglob("run.json")}
    candidates |= {p.parent.parent for p in root.rglob(".hydra/overrides.yaml")}
    done: list[Path] = []
    skipped: list[Skipped] = []
    for path in sorted(candidates, key=natural_key):
        reason = _not_finished(path)
        if reason is None:
            done.append(path)
        else:
            skipped.append(Skipped(path, reason))
    return done, skipped


def _not_finished(path: Path) -> str | None:
    """Why ``path`` is not a finished run, or None if it is."""
    status_file = path / "run.json"
    if not status_file.is_file():
        writer = live_holder(path)
        return (f"running ({writer})" if writer is not None
                else "status 'interrupted' (no run.json and no live run.lock: it was killed)"
                + _resumable(path))
    try:
        summary = json.loads(status_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        return f"unreadable run.json ({err})"
    status = summary.get("status") if isinstance(summary, dict) else None
    if status == "complete":
        return None
    error = summary.get("error", "") if isinstance(summary, dict) else ""
    return f"status {status!r}" + (f": {error}" if error else "") + _resumable(path)


def _resumable(path: Path) -> str:
    return f"; continue it with: recloop resume={path}" if (path / CHECKPOINT).is_file() else ""


def natural_key(path: Path) -> list[object]:
    """Sort ``10_als`` after ``9_als``: Hydra job numbers are not zero-padded."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", str(path))]


def parse_overrides(lines: Iterable[str]) -> dict[str, str]:
    """``["policy=als", "+x=1"]`` → ``{"policy": "als", "x": "1"}``, in command-line order."""
    out: dict[str, str] = {}
    for line in lines:
        key, sep, value = str(line).partition("=")
        if sep:
            out[key.lstrip("+~")] = value
    return out


def run_overrides(path: Path, summary: dict[str, object]) -> dict[str, str]:
    """The run's Hydra overrides; without a ``.hydra`` folder, its policy and seed."""
    file = path / ".hydra" / "overrides.yaml"
    if file.is_file():
        return parse_overrides(yaml.safe_load(file.read_text(encoding="utf-8")) or [])
    return {"policy": str(summary.get("policy", "?")), SEED_KEY: str(summary.get(SEED_KEY))}


def swept_keys(overrides: Sequence[dict[str, str]]) -> list[str]:
    """Override keys other than seed whose value differs between runs (or is sometimes absent)."""
    keys: list[str] = []
    for ov in overrides:
        keys += [k for k in ov if k not in keys and k != SEED_KEY]
    return [k for k in keys if len({ov.get(k) for ov in overrides}) > 1]


def variant_label(overrides: dict[str, str], keys: Sequence[str], fallback: str) -> str:
    """``"policy=als policy.epsilon=0.1"``: the swept values that make this variant."""
    parts = [f"{k}={overrides.get(k, 'default')}" for k in keys]
    return " ".join(parts) or fallback


def value_key(value: str) -> tuple[int, float, str]:
    """Order numbers numerically before any text, so 0.05 < 0.1 < 1 < 'als'."""
    number = as_number(value)
    return (0, number, "") if number is not None else (1, 0.0, value)


def as_number(value: str | None) -> float | None:
    """The value as a float if it is a plain number (not a bool, null or list)."""
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def assign_variants(runs: Sequence[Run]) -> list[str]:
    """Label every run with its variant; return the swept keys, ordered runs by variant."""
    keys = swept_keys([r.overrides for r in runs])
    for run in runs:
        run.variant = variant_label(run.overrides, keys, str(run.summary.get("policy", "run")))
    return keys


def variant_order(runs: Sequence[Run], keys: Sequence[str]) -> list[str]:
    """Variants sorted by their swept values (numbers numerically), each listed once."""
    firsts: dict[str, Run] = {}
    for run in runs:
        firsts.setdefault(run.variant, run)
    return sorted(firsts, key=lambda v: [value_key(firsts[v].overrides.get(k, "")) for k in keys])


def load_run(path: Path) -> Run:
    """Read one finished run directory (metrics, registry, exposure, overrides)."""
    summary = json.loads((path / "run.json").read_text(encoding="utf-8"))
    config = yaml.safe_load((path / "config.yaml").read_text(encoding="utf-8")) or {}
    n_items = int(config.get("catalog", {}).get("n_items", summary.get("items", 0)))
    registry_file = path / "registry.parquet"
    registry = read_registry(registry_file) if registry_file.is_file() else pd.DataFrame()
    items_file = path / "items.parquet"
    items = pd.read_parquet(items_file) if items_file.is_file() else pd.DataFrame()
    final, total = item_exposure(path, n_items)
    metrics = pd.read_parquet(path / "metrics.parquet")
    lacking = [c for c in ("day", "arm", "metric", "value") if c not in metrics.columns]
    if lacking:
        raise ValueError(f"metrics.parquet lacks columns {lacking}")
    overrides = run_overrides(path, summary)
    return Run(path, summary, overrides, metrics, registry, n_items, final, total, config=config,
               items=items, missing_days=missing_log_days(path, int(config.get("days", 0))))


def load_runs(paths: Sequence[Path]) -> tuple[list[Run], list[Skipped]]:
    """Load runs in order (a progress bar when there are many); unreadable ones are skipped."""
    runs: list[Run] = []
    skipped: list[Skipped] = []
    bar = tqdm(paths, desc="loading runs", unit="run", disable=len(paths) < PROGRESS_MIN_RUNS)
    for path in bar:
        try:
            runs.append(load_run(path))
        except (OSError, ValueError, KeyError, TypeError, yaml.YAMLError) as err:
            skipped.append(Skipped(path, f"unreadable ({type(err).__name__}: {err})"))
    return runs, skipped
