"""Model files that load without running code: arrays in a ``.npz``, the rest as JSON.

A trained policy is its instance attributes: numpy arrays, sparse matrices, scalars, its
config dataclass, its random generator, the public item table and, for a wrapper, the
policy it wraps. ``save_model`` writes the arrays under their attribute paths in one
``.npz`` (read back with ``allow_pickle=False``) together with ``manifest.json``, which says
how to put them together: classes by import path, scalars, generator states. Loading
rebuilds the objects without calling their constructors and imports only ``Policy`` and
``PolicyConfig`` subclasses, so opening a model file cannot run arbitrary code the way
unpickling can. An object shared by several attributes (a wrapper's generator is its
base's) is written once and shared again on loading.

A policy holding anything else cannot be written this way: the two-stage ranker (its fitted
gradient-boosting model) and the oracle (its handle on the hidden world). For those
``save_model`` falls back to a pickle, which the file's ``.pkl`` suffix says.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import pickle
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from recloop.policies.base import Policy
from recloop.policies.config import PolicyConfig
from recloop.policies.types import ItemMetadata
from recloop.sim.atomic import atomic_path

MANIFEST = "manifest.json"
SCALARS = (type(None), bool, int, float, str)
ZLIB_LEVEL = 1
BIT_GENERATORS = ("PCG64", "PCG64DXSM", "Philox", "SFC64", "MT19937")


class NotArrays(TypeError):
    """A policy's state holds something that is not arrays, scalars or known parts."""


def save_model(policy: Policy, stem: Path) -> Path:
    """Write ``policy`` as ``<stem>.npz`` (or ``<stem>.pkl`` when it cannot be); its path."""
    arrays: dict[str, np.ndarray] = {}
    try:
        manifest = _Encoder(arrays).encode(policy, "policy")
    except NotArrays:
        path = Path(stem).with_suffix(".pkl")
        with atomic_path(path) as tmp:
            tmp.write_bytes(pickle.dumps(policy))
        return path
    arrays[MANIFEST] = np.frombuffer(json.dumps(manifest).encode(), dtype=np.uint8)
    path = Path(stem).with_suffix(".npz")
    with atomic_path(path) as tmp:
        write_npz(tmp, arrays)
    return path


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """The ``.npz`` that ``np.savez_compressed`` writes, at zlib level 1 instead of its 6.

    Streamed member by member, so no second copy of the model sits in memory. ALS with a
    million users and a 14.8M-positive window: 18.2 s at level 6, 8.1 s at level 1, for
    148 against 150 MiB (``benchmarks/night_costs.py``): factors are noise to zlib, and the
    index arrays compress almost as well at level 1.
    """
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=ZLIB_LEVEL) as archive:
        for name, array in arrays.items():
            with archive.open(f"{name}.npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.asanyarray(array), allow_pickle=False)


def load_model(path: str | Path) -> Policy:
    """A saved policy: ``.npz`` rebuilt from arrays and JSON; ``.pkl`` unpickled (trust it)."""
    path = Path(path)
    if path.suffix == ".npz":
        with np.load(path, allow_pickle=False) as stored:
            arrays = {key: stored[key] for key in stored.files}
        manifest = json.loads(arrays.pop(MANIFEST).tobytes().decode())
        policy = _Decoder(arrays).decode(manifest)
    else:
        policy = pickle.loads(path.read_bytes())
    if not isinstance(policy, Policy):
        raise TypeError(f"{path} does not hold a recloop policy")
    return policy


class _Encoder:
    """Turns an object tree into JSON, moving arrays into ``arrays`` by attribute path."""

    def __init__(self, arrays: dict[str, np.ndarray]) -> None:
        self.arrays = arrays
        self.seen: dict[int, str] = {}  # id of a shared object -> the path it was written at

    def encode(self, value: Any, path: str) -> Any:
        if isinstance(value, SCALARS):
            return {"value": value}
        if isinstance(value, np.generic) and value.dtype.kind in "biuf":
            return {"scalar": value.dtype.str, "value": value.item()}
        if isinstance(value, (list, tuple)):
            items = [self.encode(v, f"{path}.{i}") for i, v in enumerate(value)]
            return {"list": items, "tuple": isinstance(value, tuple)}
        if isinstance(value, dict) and all(isinstance(k, str) for k in value):
            return {"dict": {k: self.encode(v, f"{path}.{k}") for k, v in value.items()}}
        if id(value) in self.seen:
            return {"same_as": self.seen[id(value)]}
        self.seen[id(value)] = path
        return {"at": path, **self._part(value, path)}

    def _part(self, value: Any, path: str) -> dict[str, Any]:
        """An object that may be shared: arrays, generators, configs, items, policies."""
        if isinstance(value, np.ndarray) and value.dtype.kind in "biuf":
            self.arrays[path] = value
            return {"array": path}
        if sp.issparse(value):
            csr = value.tocsr()
            for part in ("data", "indices", "indptr"):
                self.arrays[f"{path}.{part}"] = getattr(csr, part)
            return {"csr": list(csr.shape), "matrix": isinstance(value, sp.spmatrix)}
        if isinstance(value, np.random.Generator):
            state = value.bit_generator.state
            if state["bit_generator"] not in BIT_GENERATORS:
                raise NotArrays(f"bit generator {state['bit_generator']}")
            return {"generator": state}
        if isinstance(value, ItemMetadata):
            return {"items": {f.name: self.encode(getattr(value, f.name), f"{path}.{f.name}")
                              for f in dataclasses.fields(value)}}
        if isinstance(value, PolicyConfig):
            return {"config": _name(type(value)), "fields": {
                f.name: self.encode(getattr(value, f.name), f"{path}.{f.name}")
                for f in dataclasses.fields(value)}}
        if isinstance(value, Policy):
            return {"policy": _name(type(value)), "attrs": {
                k: self.encode(v, f"{path}.{k}") for k, v in vars(value).items()}}
        raise NotArrays(f"{path} is a {type(value).__name__}")


class _Decoder:
    """The inverse of ``_Encoder``."""

    def __init__(self, arrays: dict[str, np.ndarray]) -> None:
        self.arrays = arrays
        self.made: dict[str, Any] = {}

    def decode(self, node: dict[str, Any]) -> Any:
        if "same_as" in node:
            return self.made[node["same_as"]]
        if "list" in node:
            items = [self.decode(v) for v in node["list"]]
            return tuple(items) if node["tuple"] else items
        if "dict" in node:
            return {k: self.decode(v) for k, v in node["dict"].items()}
        if "scalar" in node:
            return np.dtype(node["scalar"]).type(node["value"])
        if "at" not in node:
            return node["value"]
        value = self._part(node, node["at"])
        self.made[node["at"]] = value
        return value

    def _part(self, node: dict[str, Any], path: str) -> Any:
        if "array" in node:
            return self.arrays[path]
        if "csr" in node:
            parts = [self.arrays[f"{path}.{p}"] for p in ("data", "indices", "indptr")]
            kind = sp.csr_matrix if node["matrix"] else sp.csr_array
            return kind(tuple(parts), shape=tuple(node["csr"]))
        if "generator" in node:
            state = node["generator"]
            if state["bit_generator"] not in BIT_GENERATORS:
                raise ValueError(f"unknown bit generator {state['bit_generator']!r}")
            bits = getattr(np.random, state["bit_generator"])()
            bits.state = state
            return np.random.Generator(bits)
        if "items" in node:
            return ItemMetadata(**{k: self.decode(v) for k, v in node["items"].items()})
        if "config" in node:
            cls = _class(node["config"], PolicyConfig)
            return cls(**{k: self.decode(v) for k, v in node["fields"].items()})
        cls = _class(node["policy"], Policy)
        policy = cls.__new__(cls)
        self.made[path] = policy  # before its attributes: they may point back at it
        policy.__dict__.update({k: self.decode(v) for k, v in node["attrs"].items()})
        return policy


def _name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _class(name: str, base: type) -> Any:
    """The class ``name`` imports to, which must subclass ``base``."""
    module, _, qualname = name.rpartition(".")
    cls = getattr(importlib.import_module(module), qualname, None)
    if not (isinstance(cls, type) and issubclass(cls, base)):
        raise TypeError(f"{name!r} is not a {base.__name__} class")
    return cls
