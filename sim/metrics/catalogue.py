"""The serving arms', shadows' and A/B test's metrics, declared once, in the order each row
carries them (the monitors' rows: ``sim/metrics/monitor_metrics.py``, imported here so the
catalogue is whole wherever it is read).

Each ``declare`` call names a metric, labels it for reports, files it in a section, says
which rows carry it and how it is computed from that row's inputs
(``sim/metrics/inputs.py``); it returns the name, which other modules import as a
constant instead of typing it. Families (per serving path, per segment, per ranking
metric, per estimator) are declared in loops, so their names are written once too.
"""

from __future__ import annotations

import numpy as np

from recloop.agents.population import SEGMENT_NAMES
from recloop.sim.eventlog import SERVING_PATHS
from recloop.sim.metrics import concentration as conc
from recloop.sim.metrics import monitor_metrics  # noqa: F401 - declares the monitors' rows
from recloop.sim.metrics.abtest import srm_p_value
from recloop.sim.metrics.daily import ratio
from recloop.sim.metrics.fidelity import gap_recovered
from recloop.sim.metrics.inputs import ABDay, ArmDay, ShadowDay
from recloop.sim.metrics.metric import AB, ARM, SHADOW
from recloop.sim.metrics.offline import RANKING_METRICS
from recloop.sim.metrics.sections import (
    AB_TEST,
    CATALOGUE,
    CONCENTRATION,
    LEARNING,
    NAN,
    ONLINE,
    PIPELINE,
    SE,
    SERVING,
    SHADOW_SECTION,
    declare,
)

# ---------------------------------------------------------------- exposure (released items)
GINI = declare("gini", "Gini of impressions", CONCENTRATION, lambda d: conc.gini(d.counts))
TOP1_SHARE = declare("top1_share", "Top-1% items' share", CONCENTRATION,
                     lambda d: conc.top_share(d.counts, 0.01), unit="share")
COVERAGE = declare("coverage", "Catalog coverage", CONCENTRATION,
                   lambda d: conc.coverage(d.counts), unit="share")
ENTROPY = declare("exposure_entropy", "Exposure entropy (bits)", CONCENTRATION,
                  lambda d: conc.exposure_entropy(d.counts), unit="bits")
GRAVEYARD = declare("graveyard", "Top-decile items never shown today", CONCENTRATION,
                    lambda d: conc.graveyard(d.counts, d.item_value[d.available]), unit="count")


def _never_shown_graveyard(d: ArmDay) -> float:
    shown = np.where(d.never_shown[d.available], 0, 1)
    return conc.graveyard(shown, d.item_value[d.available])


GRAVEYARD_EVER = declare("graveyard_never_shown", "Top-decile items never shown so far",
                         CONCENTRATION, _never_shown_graveyard, unit="count")

# ---------------------------------------------------------------- behaviour, users as units
IMPRESSIONS = declare("impressions", "Impressions", ONLINE,
                      lambda d: d.tally.impressions.sum(), unit="count")
SESSIONS = declare("sessions", "Sessions", ONLINE,
                   lambda d: d.tally.per_user.sessions.sum(), unit="count")
SLATES = declare("slates", "Slates served (a session may ask for several)", ONLINE,
                 lambda d: d.tally.paths.sum(), unit="count")
RATIOS: dict[str, tuple[str, str]] = {}  # ratio metric -> per-user (numerator, denominator)


def declare_ratio(name: str, label: str, num: str, den: str, unit: str) -> str:
    """A ratio of per-user sums (``UserSums`` fields); its error is declared separately."""
    RATIOS[name] = (num, den)
    return declare(name, label, ONLINE, lambda d: d.tally.per_user.ratio(num, den)[0], unit=unit)


CTR = declare_ratio("ctr", "CTR", "clicks", "impressions", "rate")
COMPLETION = declare_ratio("completion_rate", "Completion rate", "completed", "clicks", "rate")
UTILITY = declare_ratio("mean_true_utility", "Mean true utility of watched", "utility",
                        "clicks", "utility")
WATCH = declare_ratio("watch_per_session", "Watch time per session (titles)", "watched",
                      "sessions", "titles")
ACTIVE = declare("active_users", "Active users", ONLINE,
                 lambda d: d.tally.active_at_start.sum() - d.tally.churned.sum(), unit="count")
DIVERSITY = declare("intra_list_diversity", "Intra-list diversity (genres)", SERVING,
                    lambda d: ratio(d.tally.diversity_sum, d.tally.diversity_slates))
USERS_SERVED = declare("users_served", "Users with a session", ONLINE,
                       lambda d: (d.tally.per_user.sessions > 0).sum(), unit="count")
for _name, (_num, _den) in RATIOS.items():
    declare(_name + SE, f"{CATALOGUE[_name].label}: standard error", ONLINE,
            lambda d, n=_num, m=_den: d.tally.per_user.ratio(n, m)[1],
            unit=CATALOGUE[_name].unit, se_of=_name)
for _code, _path in enumerate(SERVING_PATHS):
    declare(f"served_{_path}_share", f"Slates served {_path}", SERVING,
            lambda d, c=_code: ratio(d.tally.paths[c], d.tally.paths.sum()),
            unit="share")
for _seg, _segment in enumerate(SEGMENT_NAMES):
    declare(f"churn_rate_{_segment}", f"Churn rate ({_segment})", ONLINE,
            lambda d, s=_seg: ratio(d.tally.churned[s], d.tally.active_at_start[s]), unit="rate")

# ---------------------------------------------------------------- shadow: agreement
AGREEMENT_OVERLAP = declare(
    "agreement_overlap", "Shadow: share of slate shared with production", SHADOW_SECTION,
    lambda d: ratio(d.agreement.overlap, d.agreement.sessions), unit="share", rows=(SHADOW,))
AGREEMENT_TOP1 = declare(
    "agreement_top1", "Shadow: same top item as production", SHADOW_SECTION,
    lambda d: ratio(d.agreement.same_top, d.agreement.sessions), unit="share", rows=(SHADOW,))
CLICKED_IN_SHADOW = declare(
    "clicked_item_in_shadow", "Shadow: clicked item was in its slate", SHADOW_SECTION,
    lambda d: ratio(d.agreement.click_in_shadow, d.agreement.clicks), unit="share",
    rows=(SHADOW,))

# ---------------------------------------------------------------- the night before the day
NIGHTLY = (ARM, SHADOW)


def _status_is(*statuses: str):
    return lambda d: float(d.night.status in statuses)


MODEL_VERSION = declare("model_version", "Model version serving", PIPELINE,
                        lambda d: d.production or 0, unit="version", rows=NIGHTLY)
DEPLOYED = declare("deployed", "New model deployed (1 = yes)", PIPELINE,
                   _status_is("deployed", "rolled_back"), unit="flag", rows=NIGHTLY)
VALIDATION_FAILED = declare("validation_failed", "Data validation failed", PIPELINE,
                            _status_is("validation_failed"), unit="flag", rows=NIGHTLY)
NIGHTLY_FAILED = declare("nightly_failed", "Nightly job crashed", PIPELINE,
                         _status_is("job_failed"), unit="flag", rows=NIGHTLY)
GATE_PASSED = declare(
    "gate_passed", "Quality gate passed (1 = yes)", PIPELINE,
    lambda d: NAN if d.night.gate_passed is None else d.night.gate_passed, unit="flag",
    rows=NIGHTLY)
ROLLED_BACK = declare("rolled_back", "Rolled back", PIPELINE, _status_is("rolled_back"),
                      unit="flag", rows=NIGHTLY)
ESTIMATORS = {"ips": "IPS", "snips": "SNIPS", "cascade_ips": "cascade IPS"}  # off-policy CTR
for _est, _label in ESTIMATORS.items():
    _name = declare(f"{_est}_ctr_candidate", f"Candidate CTR estimated by {_label} (held-out day)",
                    PIPELINE, lambda d, e=_est: d.night.offpolicy.get(e, NAN), unit="rate",
                    rows=NIGHTLY)
    declare(_name + SE, f"Candidate CTR by {_label}: standard error", PIPELINE,
            lambda d, e=_est + SE: d.night.offpolicy.get(e, NAN), unit="rate", rows=NIGHTLY,
            se_of=_name)
OFFLINE_CANDIDATE: dict[str, str] = {}  # ranking metric -> the candidate's offline metric
RANKING_LABELS = {"precision": "precision", "recall": "recall", "ndcg": "NDCG",
                  "hit_rate": "hit rate", "mrr": "MRR"}
for _rank in RANKING_METRICS:
    _label = RANKING_LABELS.get(_rank, _rank)
    OFFLINE_CANDIDATE[_rank] = declare(
        f"offline_{_rank}_candidate", f"Offline {_label}@k, candidate", PIPELINE,
        lambda d, r=_rank: d.night.offline.get(r, NAN), rows=NIGHTLY)
    declare(f"offline_{_rank}_production", f"Offline {_label}@k, production (live)", PIPELINE,
            lambda d, r=_rank: d.night.production_offline.get(r, NAN), rows=NIGHTLY)
OFFLINE_NDCG = OFFLINE_CANDIDATE["ndcg"]  # the candidate's offline NDCG@k, as reports compare

# ---------------------------------------------------------------- serving, the arm's day
OUTAGE = declare("outage_time_share", "Model-server outage time", SERVING,
                 lambda d: d.outage_hours / 24, unit="share")
FRESH_DAYS = 7  # a release is "fresh" for its first week (the launch catalog never is)


def _fresh_share(d: ArmDay) -> float:
    release = d.release_day
    fresh = (release > 0) & (release <= d.day) & (d.day - release < FRESH_DAYS)
    return conc.share_of(d.tally.impressions, fresh)


FRESH = declare("fresh_impression_share", "Impressions on releases under a week old",
                CONCENTRATION, _fresh_share, unit="share")
ACTIVE_SHARE = declare(
    "active_share", "Share of users still active (retention)", ONLINE,
    lambda d: float(d.tally.active_at_start.sum() - d.tally.churned.sum()) / max(d.members, 1),
    unit="share")
EPSILON = declare("epsilon", "Exploration rate ε (controller)", SERVING,
                  lambda d: d.epsilon, unit="ε")
PERSONALISATION = declare(
    "personalisation", "Personalisation: Spearman of model order vs user's own utility",
    LEARNING, lambda d: NAN if d.fidelity is None else _nanmean(d.fidelity.agreement))
ORACLE_GAP = declare(
    "oracle_gap_recovered", "Share of the random→oracle welfare gap recovered", LEARNING,
    lambda d: NAN if d.fidelity is None else gap_recovered(d.fidelity.served,
                                                           d.fidelity.random, d.fidelity.oracle),
    unit="share")
WELFARE = declare("welfare_per_user", "True utility watched per active user-day", ONLINE,
                  lambda d: ratio(d.tally.per_user.utility.sum(), d.tally.active_at_start.sum()),
                  unit="utility")
ORGANIC_SHARE = declare(
    "organic_share", "Plays found outside the recommender (share of plays)", ONLINE,
    lambda d: ratio(d.tally.organic_plays, d.tally.organic_plays + d.tally.per_user.clicks.sum()),
    unit="share")
REACH_GINI = declare("reach_gini", "Gini of distinct users reached per item", CONCENTRATION,
                     lambda d: conc.gini(d.tally.distinct_reach()[d.available]))

# ---------------------------------------------------------------- A/B test: treatment − control
EFFECTS: dict[str, str] = {}  # ratio metric -> its effect's name
for _name, (_num, _den) in RATIOS.items():
    _effect = declare(
        f"effect_{_name}", f"Treatment − control: {CATALOGUE[_name].label}", AB_TEST,
        lambda d, n=_num, m=_den: d.treatment.ratio(n, m)[0] - d.control.ratio(n, m)[0],
        unit=CATALOGUE[_name].unit, rows=(AB,))
    declare(_effect + SE, f"Treatment − control: {CATALOGUE[_name].label}, standard error",
            AB_TEST, lambda d, n=_num, m=_den: np.hypot(d.treatment.ratio(n, m)[1],
                                                        d.control.ratio(n, m)[1]),
            unit=CATALOGUE[_name].unit, rows=(AB,), se_of=_effect)
    EFFECTS[_name] = _effect
SRM_P = declare("srm_p_value",
                "Sample-ratio check p, users exposed so far (< 0.001: split broken)", AB_TEST,
                lambda d: srm_p_value(d.exposed, [1 - d.share, d.share]), unit="p", rows=(AB,))


def _nanmean(values: np.ndarray) -> float:
    finite = values[np.isfinite(values)]
    return float(finite.mean()) if finite.size else NAN


def arm_values(day: ArmDay) -> dict[str, float]:
    """A serving arm's row for the day."""
    return CATALOGUE.values(ARM, day)


def shadow_values(day: ShadowDay) -> dict[str, float]:
    """A shadow's row for the day."""
    return CATALOGUE.values(SHADOW, day)


def ab_values(day: ABDay) -> dict[str, float]:
    """The A/B test's row for the day."""
    return CATALOGUE.values(AB, day)
