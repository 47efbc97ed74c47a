"""The impression log: one row per shown item, one immutable Parquet file per day.

A day's rows are buffered as column chunks while the day runs and written once at
midnight, atomically (temporary file, then rename), so a crash never leaves a half day
that looks whole. Each partition's SHA-256 is kept so a training window can name exactly
the data it read.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from recloop.sim.atomic import atomic_path

SCHEMA = pa.schema(
    [
        ("day", pa.int16()),
        ("time", pa.float32()),  # hours since the start of the run
        ("user", pa.int32()),
        ("session", pa.int64()),
        ("position", pa.int16()),  # 0 = top of the slate
        ("item", pa.int32()),
        ("arm", pa.dictionary(pa.int8(), pa.string())),
        ("policy", pa.dictionary(pa.int8(), pa.string())),
        ("model_version", pa.int32()),
        ("serving_path", pa.dictionary(pa.int8(), pa.string())),
        ("propensity", pa.float32()),  # null where the policy cannot state it
        ("clicked", pa.bool_()),
        ("completion", pa.float32()),  # fraction watched; 0 when not clicked
    ]
)
SERVING_PATHS = ("batch", "realtime", "popular")  # serving_path codes 0, 1, 2
ORGANIC = len(SERVING_PATHS)  # code 3: a play found outside the recommender (never served)
LOG_PATHS = (*SERVING_PATHS, "organic")
ROW_COLUMNS = [f.name for f in SCHEMA if not pa.types.is_dictionary(f.type)] + ["serving_path"]


class EventLog:
    """Day partitions under ``root``: buffer today, seal at midnight, read back by day."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.digests: dict[int, str] = {}
        # rows handed to the log per sealed day, counted by the serving side before any
        # loss: what validation expects the partition to hold
        self.served: dict[int, int] = {}
        self._buffered = 0
        self._chunks: list[dict[str, np.ndarray]] = []
        self._labels: list[dict[str, str]] = []  # per chunk: its constant string columns

    def path(self, day: int) -> Path:
        return self.root / f"day={day:04d}.parquet"

    def append(self, labels: dict[str, str], **columns: np.ndarray) -> None:
        """Buffer rows for today.

        ``labels`` are the chunk's constant string columns (arm, policy); ``serving_path``
        comes per row as codes into ``SERVING_PATHS``.
        """
        missing = set(ROW_COLUMNS) - set(columns)
        if missing:
            raise ValueError(f"impression rows lack columns {sorted(missing)}")
        self._labels.append(labels)
        self._chunks.append(columns)
        self._buffered += len(columns["item"])

    def lose(self, fraction: float, rng: np.random.Generator) -> None:
        """Fault injection: drop a random ``fraction`` of today's buffered rows."""
        self._chunks = [
            {name: col[keep] for name, col in chunk.items()}
            for chunk in self._chunks
            for keep in [rng.random(len(chunk["item"])) >= fraction]
        ]

    def seal(self, day: int) -> Path:
        """Write today's buffer as the immutable partition for ``day``."""
        path = self.path(day)
        if path.exists():
            raise FileExistsError(f"partition for day {day} already written: {path}")
        table = self._table()
        with atomic_path(path) as tmp:
            pq.write_table(table, tmp, compression="zstd")
        self.digests[day] = hashlib.sha256(path.read_bytes()).hexdigest()
        self.served[day], self._buffered = self._buffered, 0
        self._chunks, self._labels = [], []
        return path

    def intact(self, day: int) -> bool:
        """True if ``day``'s partition still has the SHA-256 it was sealed with (or was
        sealed by another log, whose digest this one does not hold)."""
        sealed = self.digests.get(day)
        return sealed is None or hashlib.sha256(self.path(day).read_bytes()).hexdigest() == sealed

    def table(self, day: int) -> pa.Table:
        """One sealed day as written."""
        return pq.read_table(self.path(day))

    def read(self, days: list[int], columns: list[str] | None = None,
             arm: str | None = None) -> pd.DataFrame:
        """Rows of the given sealed days, in day order; only ``arm``'s rows when given."""
        where = None if arm is None else pc.field("arm") == arm
        frames = [pq.read_table(self.path(d), columns=columns, filters=where).to_pandas()
                  for d in days]
        if not frames:
            return empty_frame(columns)
        return pd.concat(frames, ignore_index=True)

    def data_version(self, days: list[int], arm: str | None = None) -> str:
        """Hash of the partitions' names and contents (and the arm read): a training set's id."""
        text = "|".join(f"{self.path(d).name}:{self.digests[d]}" for d in days)
        text += "" if arm is None else f"|arm={arm}"
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def _table(self) -> pa.Table:
        n = sum(len(c["item"]) for c in self._chunks)
        arrays = []
        for f in SCHEMA:
            if f.name == "serving_path":
                codes = _column(self._chunks, f.name, pa.int8())
                arrays.append(pa.DictionaryArray.from_arrays(codes, pa.array(LOG_PATHS)))
            elif pa.types.is_dictionary(f.type):
                arrays.append(self._label_column(f.name, n))
            else:
                arrays.append(_column(self._chunks, f.name, f.type))
        return pa.Table.from_arrays(arrays, schema=SCHEMA)

    def _label_column(self, name: str, n: int) -> pa.DictionaryArray:
        """A per-chunk constant string column, dictionary-encoded."""
        per_chunk = [labels.get(name, "") for labels in self._labels]
        values = list(dict.fromkeys(per_chunk)) or [""]
        sizes = [len(c["item"]) for c in self._chunks]
        codes = np.repeat([values.index(v) for v in per_chunk], sizes).astype(np.int8)
        assert codes.size == n
        return pa.DictionaryArray.from_arrays(pa.array(codes, pa.int8()), pa.array(values))


def _column(chunks: list[dict[str, np.ndarray]], name: str, kind: pa.DataType) -> pa.Array:
    if not chunks:
        return pa.array([], kind)
    values = np.concatenate([c[name] for c in chunks])
    if name == "propensity":
        return pa.array(values.astype(np.float32), kind, mask=np.isnan(values))
    return pa.array(values.astype(kind.to_pandas_dtype()), kind)


def empty_frame(columns: list[str] | None = None) -> pd.DataFrame:
    """A zero-row frame with the log's columns, for windows before any data exists."""
    frame = SCHEMA.empty_table().to_pandas()
    return frame if columns is None else frame[columns]
