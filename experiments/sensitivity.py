"""Do the headline findings survive a change of world? One-at-a-time sensitivity.

``experiment=sensitivity`` runs, for every setting of the ``vary`` group (one world
parameter moved from the centre, or none) and every seed, the runs of the ``probe`` group
that the findings need. Each finding becomes one number per setting and seed whose sign
*is* the finding:

- **concentration**: top-1% share of impressions under most popular minus under random
  (positive: popularity feeds on itself);
- **exploration, coverage**: catalog coverage of ALS with ε = 0.05 minus without;
- **exploration, CTR**: CTR of ALS with ε = 0.05 minus without (README reports its sign);
- **offline ≠ online**: 1 − Kendall's τ between the four learners' offline NDCG and their
  CTR (positive: offline evaluation orders them differently from users);
- **pooled A/B bias**: the pooled test's CTR effect minus the true global effect
  (all-treatment CTR minus all-control CTR); positive: the test understates a loss.

A setting *holds* a finding when the mean over seeds has the centre's sign, *flips* it when
it has the other sign by more than two standard errors, and is *unclear* otherwise. A
one-at-a-time design, not a variance-based one (SALib's Sobol indices): the question is
whether a sign survives each change, and Sobol would need thousands of runs per finding
for indices nobody asked for.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import kendalltau

from recloop.experiments.runs import Run

VARY, PROBE = "vary", "probe"
CENTRE = "base"
LATE_DAYS = 10  # findings read the mean of the last days, as the sweep report does
LEARNERS = ("popular", "als", "item_knn", "bpr")


@dataclass(frozen=True)
class Finding:
    """A headline finding as a signed effect: its name, what it reads, how it is computed."""

    name: str
    meaning: str


FINDINGS: tuple[Finding, ...] = (
    Finding("concentration", "top-1% share: popular − random"),
    Finding("exploration: coverage", "coverage: ALS ε=0.05 − ALS"),
    Finding("exploration: CTR", "CTR: ALS ε=0.05 − ALS"),
    Finding("offline ≠ online", "1 − Kendall τ (offline NDCG vs CTR, 4 learners)"),
    Finding("pooled A/B bias", "CTR: pooled A/B estimate − global effect"),
)


def is_sensitivity_sweep(runs: Sequence[Run]) -> bool:
    """Runs of ``experiment=sensitivity`` (they name a setting and a probe)."""
    return bool(runs) and all(VARY in r.overrides and PROBE in r.overrides for r in runs)


def late_mean(run: Run, metric: str, arm: str | None = None) -> float:
    """Mean of ``metric`` over the run's last ``LATE_DAYS`` days (one arm, or all)."""
    m = run.metrics
    rows = m[(m["metric"] == metric) & (m["day"] > m["day"].max() - LATE_DAYS)]
    if arm is not None:
        rows = rows[rows["arm"] == arm]
    values = rows["value"].dropna()
    return float(values.mean()) if len(values) else float("nan")


def offline_ndcg(run: Run) -> float:
    """Mean offline NDCG@k of the run's nightly candidates."""
    values = run.metrics.loc[run.metrics["metric"] == "offline_ndcg_candidate", "value"].dropna()
    return float(values.mean()) if len(values) else float("nan")


def effects(runs: Sequence[Run]) -> pd.DataFrame:
    """One row per (setting, seed, finding): the signed effect (NaN when a probe is missing)."""
    cells: dict[tuple[str, str], dict[str, Run]] = {}
    for run in runs:
        key = (run.overrides[VARY], run.overrides.get("seed", "0"))
        cells.setdefault(key, {})[run.overrides[PROBE]] = run
    rows = [{"setting": setting, "seed": seed, "finding": name, "effect": value}
            for (setting, seed), probes in cells.items()
            for name, value in _cell_effects(probes).items()]
    return pd.DataFrame(rows, columns=["setting", "seed", "finding", "effect"])


def _cell_effects(probes: dict[str, Run]) -> dict[str, float]:
    def diff(a: str, b: str, metric: str) -> float:
        if a not in probes or b not in probes:
            return float("nan")
        return late_mean(probes[a], metric) - late_mean(probes[b], metric)

    return {
        "concentration": diff("popular", "random", "top1_share"),
        "exploration: coverage": diff("als_explore", "als", "coverage"),
        "exploration: CTR": diff("als_explore", "als", "ctr"),
        "offline ≠ online": _misordering(probes),
        "pooled A/B bias": _pooled_bias(probes),
    }


def _misordering(probes: dict[str, Run]) -> float:
    present = [probes[p] for p in LEARNERS if p in probes]
    if len(present) < 3:
        return float("nan")
    offline = [offline_ndcg(r) for r in present]
    online = [late_mean(r, "ctr") for r in present]
    tau = kendalltau(offline, online).statistic
    return float("nan") if np.isnan(tau) else 1.0 - float(tau)


def _pooled_bias(probes: dict[str, Run]) -> float:
    needed = ("ab_pooled", "ab_all_control", "ab_all_treatment")
    if not all(p in probes for p in needed):
        return float("nan")
    estimate = late_mean(probes["ab_pooled"], "effect_ctr", arm="ab")
    truth = (late_mean(probes["ab_all_treatment"], "ctr", arm="treatment")
             - late_mean(probes["ab_all_control"], "ctr", arm="control"))
    return estimate - truth


def verdicts(per_seed: pd.DataFrame, order: Sequence[str]) -> pd.DataFrame:
    """Mean ± s.e. over seeds per (setting, finding) and whether the centre's sign holds."""
    stats = (per_seed.dropna(subset=["effect"]).groupby(["setting", "finding"])["effect"]
             .agg(mean="mean", sd="std", n="count").reset_index())
    stats["se"] = (stats["sd"] / np.sqrt(stats["n"])).fillna(0.0)
    centre = stats[stats["setting"] == CENTRE].set_index("finding")["mean"]
    stats["verdict"] = [_verdict(row, centre.get(row.finding, np.nan))
                        for row in stats.itertuples()]
    rank = {s: i for i, s in enumerate(order)}
    stats = stats.sort_values(["finding", "setting"],
                              key=lambda c: c.map(rank) if c.name == "setting" else c)
    return stats.drop(columns="sd").reset_index(drop=True)


def _verdict(row: object, centre: float) -> str:
    mean, se = row.mean, row.se  # type: ignore[attr-defined]
    if np.isnan(centre) or centre == 0:
        return "unclear"
    if np.sign(mean) == np.sign(centre):
        return "holds"
    return "flips" if abs(mean) > 2 * se else "unclear"


def survival(table: pd.DataFrame) -> pd.DataFrame:
    """Per finding: settings where it holds, flips, is unclear; and the flipping settings."""
    rows = []
    for finding in (f.name for f in FINDINGS):
        sub = table[table["finding"] == finding]
        rows.append({"finding": finding,
                     "holds": int((sub["verdict"] == "holds").sum()),
                     "flips": int((sub["verdict"] == "flips").sum()),
                     "unclear": int((sub["verdict"] == "unclear").sum()),
                     "where it flips": ", ".join(sub.loc[sub["verdict"] == "flips", "setting"])})
    return pd.DataFrame(rows)
