r"""How a user responds to a slate: examine, click at most once, watch.

The model, for a slate of k items shown to user u (positions j = 1..k):

* True utility of item i: :math:`U_{ui} = w_a \, t_u \cdot v_i + w_q \, q_i`
  (taste–item cosine plus quality; the oracle ranks by this).
* Examination: position j is examined with probability :math:`e_j`, independently,
  where :math:`e_j = 1/\log_2(j+1)` (``log``) or :math:`\gamma^{j-1}` (``geometric``).
* Attraction: an examined item attracts with
  :math:`c_{ui} = \sigma(b + \beta_U U_{ui} + \beta_A a_i)`, where :math:`a_i` is click
  appeal: clickbait attracts clicks its utility does not earn.
* At most one click: the user scans top-down and clicks the first item that is both
  examined and attractive. Hence

  .. math:: P(\text{click at } j) = e_j c_j \prod_{l<j} (1 - e_l c_l), \qquad
            P(\text{slate clicked}) = 1 - \prod_j (1 - e_j c_j).

  Without the one-click cap this is the position-based model whose expected clicks are
  :math:`\sum_j e_j c_j`; the cap only removes second clicks.
* Watching: a clicked item is watched to completion fraction
  :math:`f \sim \mathrm{Beta}(\kappa m, \kappa (1-m))` with mean
  :math:`m = \sigma(b_f + \beta_f U_{ui})`. The service logs f; what counts as a
  "completed" watch is the run's ``complete_at`` threshold, not the user's business.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import expit

from recloop.agents.catalog import Catalog
from recloop.agents.draws import Draws, as_draws
from recloop.conf.ranges import LOGIT, Between, one_of, ranged
from recloop.conf.rowwise import rowwise_product

MIN_WATCH = 1e-3  # smallest completion of a click, so a stored 0 always means no click
TINY = np.finfo(np.float64).tiny  # smallest positive normal float


@dataclass
class ChoiceConfig:
    """Parameters of examination, attraction and watching."""

    # "log": 1/log2(rank+1); "geometric": decay^(rank-1)
    position_bias: str = ranged("log", one_of("log", "geometric"))
    geometric_decay: float = ranged(0.85, Between(0.0, 1.0))
    # logit coefficients: beyond ±50 a logistic is 0 or 1 to float precision
    affinity_weight: float = ranged(3.0, LOGIT)
    quality_weight: float = ranged(0.7, LOGIT)
    click_bias: float = ranged(-2.5, LOGIT)
    click_utility: float = ranged(1.0, LOGIT)
    click_appeal: float = ranged(0.8, LOGIT)
    completion_bias: float = ranged(0.0, LOGIT)
    completion_utility: float = ranged(1.0, LOGIT)
    completion_concentration: float = ranged(6.0, Between(0, 1000, strict=True))


@dataclass(frozen=True)
class Responses:
    """Outcome of one slate per row: which position was clicked (-1: none) and how much watched."""

    click_position: np.ndarray  # int16[n], -1 for no click
    completion: np.ndarray  # float32[n], 0 where no click
    utility: np.ndarray  # float32[n, k], true utility of every shown item (NaN: empty slot)

    @property
    def clicked(self) -> np.ndarray:
        return self.click_position >= 0


def examination(k: int, cfg: ChoiceConfig) -> np.ndarray:
    """Probability that each of positions 1..k is examined."""
    ranks = np.arange(1, k + 1)
    if cfg.position_bias == "log":
        return 1.0 / np.log2(ranks + 1)
    if cfg.position_bias == "geometric":
        return cfg.geometric_decay ** (ranks - 1.0)
    raise ValueError(f"unknown position_bias {cfg.position_bias!r}; use 'log' or 'geometric'")


def true_utility(
    taste: np.ndarray, items: np.ndarray, catalog: Catalog, cfg: ChoiceConfig
) -> np.ndarray:
    """U for each (row user, item) pair: taste[n, d] against items[n, k]."""
    affinity = np.einsum("nd,nkd->nk", taste, catalog.vectors[items])
    return cfg.affinity_weight * affinity + cfg.quality_weight * catalog.quality[items]


def utility_for_all_items(taste: np.ndarray, catalog: Catalog, cfg: ChoiceConfig) -> np.ndarray:
    """U for each user row of ``taste`` against the whole catalog: float32[n, n_items]."""
    affinity = rowwise_product(taste, catalog.vectors_wide,
                               np.result_type(taste, catalog.vectors))
    return cfg.affinity_weight * affinity + cfg.quality_weight * catalog.quality


def attraction(
    utility: np.ndarray, items: np.ndarray, catalog: Catalog, cfg: ChoiceConfig
) -> np.ndarray:
    """Click probability of an examined item."""
    logit = cfg.click_bias + cfg.click_utility * utility + cfg.click_appeal * catalog.appeal[items]
    return expit(logit)


def click_probabilities(exam: np.ndarray, attract: np.ndarray) -> np.ndarray:
    """Exact P(click at j) under first-examined-and-attractive scanning (see module doc)."""
    p = exam * attract
    miss_before = np.cumprod(1.0 - p, axis=-1)
    miss_before = np.concatenate([np.ones_like(p[..., :1]), miss_before[..., :-1]], axis=-1)
    return p * miss_before


def respond(
    taste: np.ndarray,
    items: np.ndarray,
    catalog: Catalog,
    cfg: ChoiceConfig,
    rng: np.random.Generator | Draws,
    attraction_scale: np.ndarray | None = None,
    utility_loss: np.ndarray | None = None,
) -> Responses:
    """Sample each user's reaction to their slate: one row of ``items`` per user.

    Slots holding ``-1`` (nothing left to show) are never examined. ``attraction_scale``
    (n × k), when given, multiplies each item's attraction (impression fatigue);
    ``utility_loss`` (n × k) is taken off each item's utility (satiation).
    """
    n, k = items.shape
    draws = as_draws(rng, n)
    shown = items >= 0
    safe = np.where(shown, items, 0)
    utility = true_utility(taste, safe, catalog, cfg)
    if utility_loss is not None:
        utility = utility - utility_loss
    attract = attraction(utility, safe, catalog, cfg)
    if attraction_scale is not None:
        attract = attract * attraction_scale
    p_hit = examination(k, cfg) * attract * shown
    hit = draws.uniform(k) < p_hit
    any_hit = hit.any(axis=1)
    position = np.where(any_hit, hit.argmax(axis=1), -1).astype(np.int16)
    completion = np.zeros(n, dtype=np.float32)
    rows = np.flatnonzero(any_hit)
    if rows.size:
        completion[rows] = watch(utility[rows, position[rows]], cfg, draws.take(rows))
    utility = np.where(shown, utility, np.nan).astype(np.float32)
    return Responses(position, completion, utility)


def watch(utility: np.ndarray, cfg: ChoiceConfig, draws: Draws, tag: int = 1) -> np.ndarray:
    """Completion fraction of clicked items, Beta with a utility-driven mean."""
    mean = expit(cfg.completion_bias + cfg.completion_utility * utility)
    kappa = cfg.completion_concentration
    # a saturated logit makes a mean of exactly 0 or 1, and Beta refuses a zero shape:
    # the smallest positive shape instead draws the limit (0 or 1), nothing else changes
    a, b = kappa * mean, kappa * (1 - mean)
    a, b = np.where(a > 0, a, TINY), np.where(b > 0, b, TINY)
    # a click always watches a little and never more than all: keeps 0 meaning "no click"
    return np.clip(draws.beta(a, b, tag=tag), MIN_WATCH, 1.0)
