"""Every metric recloop records, declared once, in the order each row carries them.

Each ``declare`` call names a metric, labels it for reports, files it in a section, says
which rows carry it and how it is computed from that row's inputs
(``sim/metrics/inputs.py``); it returns the name, which other modules import as a
constant instead of typing it. Families (per serving path, per segment, per ranking
metric, per estimator) are declared in loops, so their names are written once too.
"""

from __future__ import annotations

import numpy as np

from recloop.agents.population import SEGMENT_NAMES
from recloop.sim import alarms
from recloop.sim.eventlog import SERVING_PATHS
from recloop.sim.metrics import concentration as conc
from recloop.sim.metrics.abtest import srm_p_value
from recloop.sim.metrics.churn import BANDS, GROUPS, SEGMENTS, ChurnDay, HoldoutDay, MonitorDay
from recloop.sim.metrics.daily import ratio
from recloop.sim.metrics.fidelity import gap_recovered
from recloop.sim.metrics.inputs import ABDay, ArmDay, ShadowDay
from recloop.sim.metrics.metric import AB, ARM, CHURN, HOLDOUT, MONITOR, SHADOW, Catalogue
from recloop.sim.metrics.offline import RANKING_METRICS

CONCENTRATION, ONLINE, AB_TEST = "Popularity concentration", "Online behaviour", "A/B test"
LEARNING = "What the model learned (against ground truth)"
SERVING, PIPELINE, SHADOW_SECTION = "Slates and serving", "Nightly pipeline", "Shadow candidate"
CHURN_SECTION = "Churn model: the dashboard against the truth"
HOLDOUT_SECTION = "Holdout monitor: random slates against production"
MONITOR_SECTION = "Monitors: the churn model's calibration, concentration, alarms"
CATALOGUE = Catalogue((CONCENTRATION, ONLINE, LEARNING, AB_TEST, SERVING, PIPELINE,
                       SHADOW_SECTION, CHURN_SECTION, HOLDOUT_SECTION, MONITOR_SECTION))
declare = CATALOGUE.declare
NAN = float("nan")
SE = "_se"  # a standard error's name: its metric's name and this suffix

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

# ---------------------------------------------------------------- churn dashboard (truth beside)
CHURN_PREDICTED: dict[str, str] = {}  # segment ("all", ...) -> mean predicted risk
CHURN_TRUE: dict[str, str] = {}  # segment -> the same users' true risk
for _seg, _segment in ((None, "all"), *SEGMENTS):
    CHURN_PREDICTED[_segment] = declare(
        f"churn_predicted_{_segment}", f"Predicted churn risk, mean over scored ({_segment})",
        CHURN_SECTION, lambda d, s=_seg: d.mean(d.predicted, s), unit="share", rows=(CHURN,))
    CHURN_TRUE[_segment] = declare(
        f"churn_true_{_segment}", f"True risk of the same users ({_segment})",
        CHURN_SECTION, lambda d, s=_seg: d.mean(d.true_risk, s), unit="share", rows=(CHURN,))
    declare(f"churn_scored_{_segment}", f"Users the churn model scores ({_segment})",
            CHURN_SECTION, lambda d, s=_seg: (d.segment == s).sum() if s is not None
            else d.segment.size, unit="count", rows=(CHURN,))
for _band, _name in BANDS:
    CHURN_PREDICTED[_name] = declare(
        f"churn_predicted_{_name}", f"Predicted churn risk, tenure {_name}", CHURN_SECTION,
        lambda d, b=_band: d.band_mean(d.predicted, b), unit="share", rows=(CHURN,))
    CHURN_TRUE[_name] = declare(
        f"churn_true_{_name}", f"True risk of the same users, tenure {_name}", CHURN_SECTION,
        lambda d, b=_band: d.band_mean(d.true_risk, b), unit="share", rows=(CHURN,))
for _seg, _segment in SEGMENTS:
    declare(f"churn_daily_true_{_segment}", f"True churn today, all arms ({_segment})",
            CHURN_SECTION, lambda d, s=_seg: ratio(d.churned[s], d.active_at_start[s]),
            unit="rate", rows=(CHURN,))
    declare(f"segment_size_{_segment}", f"True segment size: active users ({_segment})",
            CHURN_SECTION, lambda d, s=_seg: d.sizes[s], unit="count", rows=(CHURN,))
CHURN_AUC = declare("churn_auc", "Churn model AUC (held-out date)", CHURN_SECTION,
                    lambda d: d.auc, rows=(CHURN,))
CHURN_BRIER = declare("churn_brier", "Churn model Brier score (held-out date)", CHURN_SECTION,
                      lambda d: d.brier, rows=(CHURN,))
CHURN_CALIBRATION = declare(
    "churn_calibration", "Churn model: mean predicted − observed churn (held-out date)",
    CHURN_SECTION, lambda d: d.calibration, unit="share", rows=(CHURN,))

# ---------------------------------------------------------------- holdout monitor
HOLDOUT_GAP: dict[str, str] = {}  # segment -> production − holdout retention
for _seg, _segment in SEGMENTS:
    for _group, _who in enumerate(("production", "holdout")):
        declare(f"retention_{_segment}_{_who}", f"Retention, {_who} ({_segment})",
                HOLDOUT_SECTION, lambda d, s=_seg, g=_group: d.retention(s, g), unit="share",
                rows=(HOLDOUT,))
    HOLDOUT_GAP[_segment] = declare(
        f"retention_gap_{_segment}", f"Retention: production − holdout ({_segment})",
        HOLDOUT_SECTION, lambda d, s=_seg: d.gap(s)[0], unit="share", rows=(HOLDOUT,))
    declare(HOLDOUT_GAP[_segment] + SE, f"Retention gap ({_segment}): standard error",
            HOLDOUT_SECTION, lambda d, s=_seg: d.gap(s)[1], unit="share", rows=(HOLDOUT,),
            se_of=HOLDOUT_GAP[_segment])
HOLDOUT_ALARM_FLAG = declare("holdout_alarm", "Holdout alarm: niche retention below holdout's",
                        HOLDOUT_SECTION, lambda d: float(d.alarm), unit="flag",
                        rows=(HOLDOUT,))

# ---------------------------------------------------------------- the other monitors
CALIBRATION_GAP: dict[str, str] = {}  # group (segment or tenure band) -> predicted − observed
for _g, _group in enumerate(GROUPS):
    CALIBRATION_GAP[_group] = declare(
        f"calibration_gap_{_group}", f"Churn predicted − observed, matured date ({_group})",
        MONITOR_SECTION, lambda d, g=_g: d.gap(g), unit="share", rows=(MONITOR,))
ALARM: dict[str, str] = {alarms.HOLDOUT_ALARM: HOLDOUT_ALARM_FLAG}  # monitor -> 0/1 metric
for _monitor in (alarms.CALIBRATION, alarms.CONCENTRATION):
    ALARM[_monitor] = declare(f"{_monitor}_alarm", f"{_monitor.capitalize()} alarm (1 = up)",
                              MONITOR_SECTION, lambda d, m=_monitor: d.up(m), unit="flag",
                              rows=(MONITOR,))
    declare(f"{_monitor}_alarms_raised", f"{_monitor.capitalize()} alarms raised so far",
            MONITOR_SECTION, lambda d, m=_monitor: d.raised(m), unit="count", rows=(MONITOR,))
ALARMS_RAISED = declare("alarms_raised", "Alarms raised so far, every monitor", MONITOR_SECTION,
                        lambda d: d.raised(), unit="count", rows=(MONITOR,))


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


def churn_values(day: ChurnDay) -> dict[str, float]:
    """The churn dashboard's row for the day."""
    return CATALOGUE.values(CHURN, day)


def holdout_values(day: HoldoutDay) -> dict[str, float]:
    """The holdout monitor's row for the day."""
    return CATALOGUE.values(HOLDOUT, day)


def monitor_values(day: MonitorDay) -> dict[str, float]:
    """The other monitors' row for the day."""
    return CATALOGUE.values(MONITOR, day)
