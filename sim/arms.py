"""A/B arms: who is in which arm, and what each arm owns.

Every run has at least one arm. Without an A/B test it is the single arm ``cfg.arm`` serving
everyone. With one, a seeded hash of the user id splits the population between ``control``
(the run's ``policy``) and ``treatment`` (``ab.treatment``). Each arm has its own nightly
job, model registry, serving lists and daily tally; the event log, the world and the users'
watch history are shared, as they are in production.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field

import numpy as np

from policies.base import Policy
from sim.config import RunConfig
from sim.metrics.daily import DayTally
from sim.pipeline.nightly import NightlyJob, NightOutcome
from sim.pipeline.registry import Registry
from sim.serving import Server

CONTROL, TREATMENT = "control", "treatment"


def assign_treatment(n_users: int, share: float, salt: str, entropy: int) -> np.ndarray:
    """bool[n_users]: True for users the hash sends to treatment.

    A hash, not a random stream: a user's arm depends only on (salt, seed, id), so it never
    shifts when anything else in the run changes, and share 0 / 1 give the pure arms.
    """
    key = np.uint64(zlib.crc32(f"{salt}/{entropy}".encode()))
    with np.errstate(over="ignore"):
        x = np.arange(n_users, dtype=np.uint64) + key * np.uint64(0x9E3779B97F4A7C15)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)  # splitmix64 finaliser
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        x ^= x >> np.uint64(31)
    uniform = (x >> np.uint64(11)).astype(np.float64) / 2.0**53
    return uniform < share


def arm_plan(cfg: RunConfig, n_users: int, entropy: int) -> dict[str, np.ndarray]:
    """Arm name → member mask; arms without members are left out."""
    everyone = np.ones(n_users, dtype=bool)
    if cfg.ab.treatment is None:
        return {cfg.arm: everyone}
    treated = assign_treatment(n_users, cfg.ab.share, cfg.ab.salt, entropy)
    plan = {CONTROL: ~treated, TREATMENT: treated}
    return {name: members for name, members in plan.items() if members.any()}


@dataclass
class Arm:
    """One arm's policy, pipeline, serving lists and running state."""

    name: str
    members: np.ndarray  # bool[n_users]
    job: NightlyJob
    server: Server
    tally: DayTally
    never_shown: np.ndarray  # bool[n_items]: never shown to this arm so far
    ever_served: np.ndarray  # bool[n_users]: had a session so far (the SRM check's units)
    policy: Policy | None = None
    night: NightOutcome | None = None
    epsilon: float | None = None  # the controller's exploration rate, when adaptive
    last_top1_share: float = float("nan")
    ctr: dict[int, float] = field(default_factory=dict)
    positives_by_day: dict[int, np.ndarray] = field(default_factory=dict)  # per item

    @property
    def registry(self) -> Registry:
        return self.job.registry
