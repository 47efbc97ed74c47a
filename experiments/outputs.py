"""What a finished run writes into its folder: the config as run, metrics, registry, item
table, report, and ``run.json`` (its summary, written last so its presence means done)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import yaml
from omegaconf import DictConfig, OmegaConf

from recloop.experiments.churn_report import run_blocks
from recloop.experiments.data_match_report import data_match_blocks
from recloop.experiments.report import write_report
from recloop.policies.types import ItemMetadata
from recloop.sim.atomic import atomic_path
from recloop.sim.config import RunConfig
from recloop.sim.metrics.catalogue import CTR, TOP1_SHARE
from recloop.sim.pipeline.registry import registry_table
from recloop.sim.story import RunResult


def write_outputs(cfg: RunConfig, run_dir: Path, result: RunResult,
                  resolved: DictConfig | None, wall: float, label: str) -> None:
    """Config as run, metrics, registry, report, then ``run.json`` saying complete."""
    config_text = resolved_yaml(cfg, resolved, result.entropy)
    write_text(run_dir / "config.yaml", config_text)
    with atomic_path(run_dir / "metrics.parquet") as tmp:
        result.metrics.to_parquet(tmp, index=False)
    with atomic_path(run_dir / "registry.parquet") as tmp:
        pq.write_table(registry_table(result.registry), tmp)
    with atomic_path(run_dir / "items.parquet") as tmp:
        item_table(result.world.metadata()).to_parquet(tmp, index=False)
    summary = run_summary(cfg, result, wall)
    banner, checks = data_match_blocks(run_dir, yaml.safe_load(config_text))
    write_report(result.metrics, run_dir / "report.html", f"recloop: {label}",
                 {k: str(v) for k, v in summary.items()}, lead=banner,
                 extra=[*checks, *run_blocks(result.metrics, cfg.policy.name)])
    write_text(run_dir / "run.json", json.dumps(summary, indent=2) + "\n")


def item_table(items: ItemMetadata) -> pd.DataFrame:
    """Every item's public facts, the ones a policy may see (nothing of the hidden world)."""
    ids = np.arange(items.n_items, dtype=np.int32)
    return pd.DataFrame({"item": ids, "genre": items.genre, "release_day": items.release_day})


def run_summary(cfg: RunConfig, result: RunResult, wall: float) -> dict[str, object]:
    """The headline facts of a finished run."""
    metrics = result.metrics
    final = metrics[metrics.day == metrics.day.max()]
    arms = result.arms
    headline: dict[str, object] = {}
    for arm in arms:
        last = final[final.arm == arm].set_index("metric")["value"]
        suffix = "" if len(arms) == 1 else f"_{arm}"
        for metric in (TOP1_SHARE, CTR):
            headline[f"final_{metric}{suffix}"] = round(float(last.get(metric, np.nan)), 4)
        headline |= {f"{key}{suffix}": value for key, value in gate_counts(result, arm).items()}
    return {
        "status": "complete",
        "policy": cfg.policy.name,
        "serving": cfg.serving.name,
        "seed": cfg.seed,
        "seed_entropy": result.entropy,
        "days": cfg.days,
        "users": cfg.users.n_users,
        "items": cfg.catalog.n_items,
        "impressions": result.impressions,
        "wall_seconds": round(wall, 3),
        "impressions_per_second": round(result.impressions / max(wall, 1e-9)),
        "arms": ",".join(arms),
        "treatment": cfg.ab.treatment.name if cfg.ab.treatment is not None else "none",
        **headline,
    }


def gate_counts(result: RunResult, arm: str) -> dict[str, int]:
    """Nights on which the gate judged a candidate, and how many of them it rejected."""
    records = result.registry[result.registry["arm"] == arm]
    return {"gate_judged_nights": int(records["gate_passed"].notna().sum()),
            "gate_rejected_nights": int((records["status"] == "rejected").sum())}


def gate_line(result: RunResult) -> str:
    """One line on the gate's verdicts, a warning when it rejected more than half."""
    parts, warn = [], False
    for arm in result.arms:
        counts = gate_counts(result, arm)
        judged, rejected = counts["gate_judged_nights"], counts["gate_rejected_nights"]
        warn |= rejected > judged / 2
        label = "" if len(result.arms) == 1 else f"{arm}: "
        parts.append(f"{label}rejected {rejected} of {judged} judged nights")
    text = "quality gate: " + "; ".join(parts)
    return text + (" (warning: more than half rejected; the loop barely moved)" if warn else "")


def resolved_yaml(cfg: RunConfig, resolved: DictConfig | None, entropy: int) -> str:
    """The config as run, with the seed actually used, so it can be fed back to recloop."""
    config = OmegaConf.structured(cfg) if resolved is None else resolved.copy()
    note = "" if cfg.seed is not None else "# seed was null: fresh entropy, recorded here\n"
    config.seed = entropy
    return note + OmegaConf.to_yaml(config)


def write_text(path: Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
