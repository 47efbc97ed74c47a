"""State kept one row per user: take some users' rows out, write new rows back.

Every field of a ``PerUser`` dataclass is an array whose first axis is the user, or a
nested ``PerUser``. A transition receives the rows of the users it is about (a copy) and
returns new rows; only the owner of the state writes them back. A new behaviour's memory
subclasses this and gets both operations for free.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any, Self

import numpy as np


class PerUser:
    """Mixin for dataclasses of per-user arrays (see the module docstring)."""

    def rows(self, users: np.ndarray) -> Self:
        """A copy of the rows of ``users``."""
        values: dict[str, Any] = {}
        for spec in fields(self):  # type: ignore[arg-type]
            value = getattr(self, spec.name)
            values[spec.name] = value.rows(users) if isinstance(value, PerUser) else value[users]
        return type(self)(**values)

    def put(self, users: np.ndarray, rows: Self) -> None:
        """Write ``rows`` back as the rows of ``users``."""
        for spec in fields(self):  # type: ignore[arg-type]
            value = getattr(self, spec.name)
            if isinstance(value, PerUser):
                value.put(users, getattr(rows, spec.name))
            else:
                value[users] = getattr(rows, spec.name)
