"""recloop: a discrete-event simulator of recommender-system feedback loops.

Installed, the repository's folders are subpackages of this one: ``recloop.sim`` (the
engine), ``recloop.agents`` (the hidden world), ``recloop.policies`` (recommenders),
``recloop.experiments`` (entry points and reports) and ``recloop.conf`` (Hydra configs).

The Python API (``recloop.experiments.api``) is re-exported here and imported on first use,
so ``import recloop`` stays light: ``config``, ``run``, ``load_run`` and ``simulate``.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
API = {"config": "recloop.experiments.api", "run": "recloop.experiments.api",
       "load_run": "recloop.experiments.api", "simulate": "recloop.sim.story"}


def __getattr__(name: str) -> Any:
    """Import an API function when it is first asked for."""
    if name not in API:
        raise AttributeError(f"module 'recloop' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(API[name]), name)
