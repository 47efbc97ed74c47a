"""A/B assignment: which serving arm each user belongs to.

Every run has at least one arm. Without an A/B test it is the single arm ``cfg.arm`` serving
everyone. With one, a seeded hash of the user id splits the population between ``control``
(the run's ``policy``) and ``treatment`` (``ab.treatment``); with a persistent holdout
(``churn_model.holdout_share``), a hash with its own salt sends that share to ``holdout``,
served random slates. What each arm then owns is
``sim/serving_arm.py``'s business.
"""

from __future__ import annotations

import zlib

import numpy as np

from recloop.sim.config import RunConfig

CONTROL, TREATMENT = "control", "treatment"
HOLDOUT = "holdout"  # the persistent holdout's arm (``sim/holdout.py``)


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
    holdout = cfg.churn_model.holdout_share
    if cfg.ab.treatment is None and holdout > 0:  # sim/cross_checks.py: never both
        held = assign_treatment(n_users, holdout, cfg.churn_model.holdout_salt, entropy)
        return {name: members for name, members in {cfg.arm: ~held, HOLDOUT: held}.items()
                if members.any()}
    if cfg.ab.treatment is None:
        return {cfg.arm: everyone}
    treated = assign_treatment(n_users, cfg.ab.share, cfg.ab.salt, entropy)
    plan = {CONTROL: ~treated, TREATMENT: treated}
    return {name: members for name, members in plan.items() if members.any()}
