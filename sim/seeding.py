"""One root seed, one independent random stream per named component.

Streams are derived from the root ``SeedSequence`` by a stable key per name (not by spawn
order), so adding a component never shifts another component's numbers.
"""

from __future__ import annotations

import zlib

import numpy as np


class Streams:
    """Named ``np.random.Generator`` factory for one run."""

    def __init__(self, seed: int | None) -> None:
        """``seed=None`` draws fresh entropy; ``entropy`` records it so the run can be redone."""
        root = np.random.SeedSequence(seed)
        self.entropy: int = int(root.entropy)  # type: ignore[arg-type]

    def seed_sequence(self, name: str) -> np.random.SeedSequence:
        """The child sequence for ``name``: same root and name give the same sequence."""
        return np.random.SeedSequence(self.entropy, spawn_key=(zlib.crc32(name.encode()),))

    def rng(self, name: str) -> np.random.Generator:
        """A fresh generator for ``name``; call once per component and keep it."""
        return np.random.default_rng(self.seed_sequence(name))
