"""What a run's log partitions say across days: impressions per item, and which days are
missing (a deleted or never-written partition must not pass silently as a shorter run).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq


def item_exposure(path: Path, n_items: int) -> tuple[np.ndarray, np.ndarray]:
    """Impressions per item on the last logged day and over the whole run.

    Items never shown count as zeros (``n_items`` from the config), which is the point:
    a catalog's unseen tail is where concentration shows. Organic plays were never shown,
    so they are not impressions.
    """
    parts = sorted((path / "log").glob("day=*.parquet"))
    total = np.zeros(n_items, dtype=np.int64)
    final = total.copy()
    shown = pc.field("serving_path") != "organic"
    for part in parts:
        items = pq.read_table(part, columns=["item"], filters=shown).column("item").to_numpy()
        final = np.bincount(items, minlength=n_items)[:n_items]
        total += final
    return final, total


def missing_log_days(path: Path, days: int) -> list[int]:
    """Days ``0..days-1`` whose partition ``log/day=NNNN.parquet`` is not in the run folder."""
    return [d for d in range(days) if not (path / "log" / f"day={d:04d}.parquet").is_file()]
