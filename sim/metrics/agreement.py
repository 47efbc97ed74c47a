"""How far a shadow candidate agrees with what production served, one day at a time.

Per session: the share of the shadow's slate that production also showed, whether both
lead with the same item, and whether the item the user clicked was in the shadow's slate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Agreement:
    """One day's running sums of shadow-versus-production agreement."""

    sessions: int = 0
    overlap: float = 0.0  # sum over sessions of |shadow ∩ served| / k
    same_top: int = 0
    clicks: int = 0
    click_in_shadow: int = 0

    def add(self, shadow: np.ndarray, served: np.ndarray, clicked_item: np.ndarray) -> None:
        """Slates are n × k (-1 empty); ``clicked_item`` is -1 for sessions without a click."""
        common = (shadow[:, :, None] == served[:, None, :]) & (shadow[:, :, None] >= 0)
        self.sessions += shadow.shape[0]
        self.overlap += float(common.any(axis=2).sum(axis=1).sum() / shadow.shape[1])
        self.same_top += int((shadow[:, 0] == served[:, 0]).sum())
        clicked = clicked_item >= 0
        self.clicks += int(clicked.sum())
        self.click_in_shadow += int((shadow[clicked] == clicked_item[clicked, None]).any(axis=1).sum())
