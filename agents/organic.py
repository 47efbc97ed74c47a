"""The organic channel: plays users find outside the recommender (search, browse, friends).

With probability ``per_session`` a session also brings one organic play. The user picks,
among released items not yet watched, item i with probability proportional to
``exp(taste_weight * U_ui + popularity_weight * log(1 + plays_i))``: their own true
utility and how often the whole service has played the item so far (word of mouth). The
play is watched like a clicked recommendation. The service logs it with serving path
``organic`` and no propensity, and the nightly job trains on it like any other play: the
one signal of the users' tastes that the recommender did not choose. The default
``per_session = 0.5``: without this channel the recommender only ever learns from its own
choices, and in the default world ALS learned no taste at all (personalisation about 0);
0 switches the channel off.

Two samplers draw from that same distribution. ``scan`` (the default) computes every
item's weight for the user and inverts the CDF with one uniform: its cost grows with the
catalog. ``rejection`` proposes titles from weights that leave out the user's taste but
bound it from above (tastes are unit vectors, so taste · v_i <= |v_i|), and accepts a
proposal with the probability the bound overstates it by, and only if the user may play
it; a session whose ``REJECTION_TRIES`` proposals all fail falls back to a scan. Each
accepted draw is exact, so the finds follow the distribution above; the cost per play no
longer grows with the catalog. The two consume random numbers differently, so a run's
numbers change with the sampler, not its distributions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recloop.agents.catalog import Catalog
from recloop.agents.choice import ChoiceConfig, true_utility, utility_for_all_items, watch
from recloop.agents.draws import Draws, as_draws
from recloop.agents.playable import Playable, as_playable
from recloop.conf.ranges import UNIT, Between, one_of, ranged

REJECTION_TRIES = 48  # proposals per session before a rejection find falls back to a scan
# proposals weighed at once: 58% of finds accept within the first 8 (50k users x 20k items),
# so sessions still searching draw the next 8, not all 48 up front; the first accepted is
# the same proposal either way, and each proposal's numbers do not depend on the batch
STAGE = 8


@dataclass
class OrganicConfig:
    """How often users find plays on their own, and what steers them."""

    # probability that a session also brings one play found outside the recommender
    per_session: float = ranged(0.5, UNIT)
    # weight of the user's own true utility in what they find
    taste_weight: float = ranged(1.0, Between(0, 100))
    # weight of log(1 + plays so far) in what they find
    popularity_weight: float = ranged(0.5, Between(0, 100))
    # how a find is drawn: scan the catalog, or propose and accept (same distribution)
    sampler: str = ranged("scan", one_of("scan", "rejection"))

    @property
    def enabled(self) -> bool:
        return self.per_session > 0


@dataclass(frozen=True)
class OrganicPlays:
    """The organic plays of one batch of sessions."""

    rows: np.ndarray  # index into the batch: whose session brought one
    items: np.ndarray  # int32, what each played
    completion: np.ndarray  # float32, how much of it they watched
    utility: np.ndarray  # float32, its true utility for them

    @classmethod
    def concat(cls, parts: list[OrganicPlays]) -> OrganicPlays:
        """Plays of several kinds for one batch, one after the other."""
        return cls(*(np.concatenate([getattr(p, f) for p in parts])
                     for f in ("rows", "items", "completion", "utility")))


def find(taste: np.ndarray, allowed: np.ndarray | Playable, plays: np.ndarray,
         catalog: Catalog, choice: ChoiceConfig, cfg: OrganicConfig,
         draws: Draws | np.random.Generator) -> OrganicPlays:
    """Organic plays for a batch: ``taste`` per session, ``allowed`` what each may play
    (a bool[n, n_items] mask or a ``Playable``)."""
    allowed = as_playable(allowed)
    draws = as_draws(draws, taste.shape[0])
    found = np.flatnonzero(draws.uniform(1, tag=2)[:, 0] < cfg.per_session)
    sampler = by_rejection if cfg.sampler == "rejection" else by_scan
    rows, pick, value = sampler(taste, found, allowed, plays, catalog, choice, cfg, draws)
    players = draws.take(rows)
    completion = watch(value, choice, players).astype(np.float32) if rows.size else value
    return OrganicPlays(rows, pick.astype(np.int32), completion, value)


def by_scan(taste: np.ndarray, found: np.ndarray, allowed: Playable, plays: np.ndarray,
            catalog: Catalog, choice: ChoiceConfig, cfg: OrganicConfig,
            draws: Draws) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(rows, picks, their true utility): every item weighed for each finding row with
    anything left to play."""
    mask = allowed.rows(found)
    playing = mask.any(axis=1)
    rows, mask = found[playing], mask[playing]
    utility = utility_for_all_items(taste[rows], catalog, choice)
    score = cfg.taste_weight * utility + cfg.popularity_weight * np.log1p(plays, dtype=np.float32)
    pick = draws.take(rows).categorical(np.where(mask, score, -np.inf), tag=3)
    return rows, pick, utility[np.arange(rows.size), pick].astype(np.float32)


def by_rejection(taste: np.ndarray, found: np.ndarray, allowed: Playable, plays: np.ndarray,
                 catalog: Catalog, choice: ChoiceConfig, cfg: OrganicConfig,
                 draws: Draws) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(rows, picks, their true utility) by proposing from a taste-free upper bound of the
    weights and accepting with the ratio of the true weight to the bound (module docstring)."""
    reach = (cfg.taste_weight * abs(choice.affinity_weight) * max_norm(taste[found])
             * catalog.vector_norms)
    bound = (cfg.taste_weight * choice.quality_weight * catalog.quality + reach
             + cfg.popularity_weight * np.log1p(plays.astype(np.float64)))
    cdf = np.cumsum(np.exp(bound - bound.max()))
    u = draws.take(found).uniform(2 * REJECTION_TRIES, tag=4)
    choice_of = first_accepted(u, cdf, reach, taste[found], found, allowed, catalog,
                               cfg.taste_weight * choice.affinity_weight)
    done = choice_of >= 0
    picked = choice_of[done]
    value = true_utility(taste[found[done]], picked[:, None], catalog, choice)[:, 0]
    rest = by_scan(taste, found[~done], allowed, plays, catalog, choice, cfg, draws)
    rows, pick, value = (np.concatenate(pair) for pair in
                         zip((found[done], picked, value.astype(np.float32)), rest, strict=True))
    order = np.argsort(rows, kind="stable")
    return rows[order], pick[order], value[order]


def first_accepted(u: np.ndarray, cdf: np.ndarray, reach: np.ndarray, tastes: np.ndarray,
                   found: np.ndarray, allowed: Playable, catalog: Catalog,
                   weight: float) -> np.ndarray:
    """Per finding row, the first of its ``REJECTION_TRIES`` proposals that is accepted
    (-1 when none is): proposals from ``u``'s first half inverted through ``cdf``, accepted
    when its second half falls under the bound's overstatement and the row may play it.
    Weighed ``STAGE`` at a time for the rows still searching."""
    tastes = tastes.astype(np.float64)
    choice_of = np.full(found.size, -1, dtype=np.intp)
    rows = np.arange(found.size)
    for start in range(0, REJECTION_TRIES, STAGE):
        tries = slice(start, start + STAGE)
        proposed = np.minimum(np.searchsorted(cdf, u[rows, tries] * cdf[-1], side="right"),
                              cdf.size - 1)
        affinity = np.einsum("nd,nkd->nk", tastes[rows],
                             catalog.vectors[proposed].astype(np.float64))
        odds = np.exp(weight * affinity - reach[proposed])
        accepted = ((u[rows, REJECTION_TRIES + start:REJECTION_TRIES + start + STAGE] < odds)
                    & allowed.pairs(found[rows], proposed))
        hit = accepted.any(axis=1)
        choice_of[rows[hit]] = proposed[hit, accepted[hit].argmax(axis=1)]
        rows = rows[~hit]
        if rows.size == 0:
            break
    return choice_of


def max_norm(taste: np.ndarray) -> float:
    """The largest taste norm in the batch (1 for unit tastes; 0 for an empty batch)."""
    return float(np.linalg.norm(taste, axis=1).max(initial=0.0))
