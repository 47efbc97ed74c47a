"""The metric catalogue's sections, and the one ``Catalogue`` every metric is declared in.

Two modules declare into it: ``sim/metrics/catalogue.py`` the serving arms', shadows' and
A/B test's rows, ``sim/metrics/monitor_metrics.py`` the churn dashboard's, the holdout's
and the other monitors' rows. The sections are listed here once, in the order reports
draw them, so it does not matter which module declares first.
"""

from __future__ import annotations

from recloop.sim.metrics.metric import Catalogue

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
