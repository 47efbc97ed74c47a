"""Shadow mode: the candidate sees every request, users never see the candidate."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from recloop.sim.config import RunConfig
from recloop.sim.metrics.agreement import Agreement
from recloop.sim.metrics.catalogue import shadow_values
from recloop.sim.metrics.inputs import ShadowDay
from recloop.sim.pipeline.state import ModelRecord
from recloop.sim.story import simulate

MakeConfig = Callable[..., RunConfig]
AGREEMENT = ["agreement_overlap", "agreement_top1", "clicked_item_in_shadow"]


def test_agreement_counts_overlap_top_item_and_clicked_item() -> None:
    agreement = Agreement()
    shadow = np.array([[1, 2, 3], [4, 5, -1]])
    served = np.array([[3, 2, 9], [4, 6, 7]])
    agreement.add(shadow, served, clicked_item=np.array([9, 4]))
    m = shadow_values(ShadowDay(agreement, ModelRecord(1, 0, "deployed"), production=1))
    assert m["agreement_overlap"] == (2 / 3 + 1 / 3) / 2
    assert m["agreement_top1"] == 0.5
    assert m["clicked_item_in_shadow"] == 0.5  # 9 is not in the shadow's first slate


def test_a_shadow_changes_nothing_users_see(small_config: MakeConfig, tmp_path: Path) -> None:
    """Same seed with and without a shadow: production's log and metrics are identical.
    A shadow with production's own config agrees on almost every slate once trained (the
    two models break ties among equally popular items in their own random orders, which
    is all they share on day 0, before any data)."""
    plain = simulate(small_config("days=4", "policy=popular"), tmp_path / "plain").metrics
    shadowed = simulate(small_config("days=4", "policy=popular", "policy@shadow=popular"),
                        tmp_path / "shadowed").metrics
    production = shadowed[shadowed.arm != "shadow"].reset_index(drop=True)
    pd.testing.assert_frame_equal(production, plain)
    log = pd.read_parquet(tmp_path / "shadowed" / "log")
    pd.testing.assert_frame_equal(log, pd.read_parquet(tmp_path / "plain" / "log"))
    ghost = pd.read_parquet(tmp_path / "shadowed" / "shadow_log")
    served = log[log.serving_path != "organic"]  # the shadow ranks requests, not plays
    assert len(ghost) == len(served) and not ghost.clicked.any()
    agree = shadowed[shadowed.metric.isin(AGREEMENT)]
    assert len(agree) == 3 * 4 and (agree[agree.day >= 1].value > 0.8).all()


def test_a_different_shadow_is_judged_offline_and_disagrees(small_config: MakeConfig,
                                                            tmp_path: Path) -> None:
    result = simulate(small_config("days=5", "policy=popular", "policy@shadow=item_knn"), tmp_path)
    m = result.metrics
    shadow = m[m.arm == "shadow"].pivot(index="day", columns="metric", values="value")
    assert (shadow.loc[2:, "agreement_overlap"] < 0.95).all()
    assert shadow.loc[2:, "offline_ndcg_candidate"].notna().all()
    assert (shadow.loc[1:, "model_version"] > 0).all()
    reg = result.registry
    assert set(reg.arm) == {"main", "shadow"}
    assert set(pd.read_parquet(tmp_path / "shadow_log").policy.astype(str)) == {"item_knn"}
