"""Model files, the typed registry and the item table of a run directory."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from contracts import assert_same, context, planted, seeded_rng

import recloop
from recloop.policies.registry import make_policy
from recloop.sim.config import RunConfig
from recloop.sim.pipeline.artifacts import MANIFEST, load_model, save_model
from recloop.sim.pipeline.registry import read_registry, registry_table
from recloop.sim.pipeline.state import ModelRecord
from recloop.sim.story import simulate

MakeConfig = Callable[..., RunConfig]
SMALL = ("users=small", "catalog=small", "progress=false")


@pytest.mark.parametrize(("overrides", "suffix"), [
    (["policy=popular"], ".npz"), (["policy=item_knn"], ".npz"), (["policy=bpr"], ".npz"),
    (["policy=als", "policy.epsilon=0.2", "policy.diversity=0.3", "policy.fresh_slots=1"],
     ".npz"),
    (["policy=two_stage"], ".pkl"),  # a fitted gradient-boosting model is not arrays
])
def test_models_are_arrays_where_they_can_be_and_serve_the_same(
        small_config: MakeConfig, tmp_path: Path, overrides: list[str], suffix: str) -> None:
    data = planted()
    policy = make_policy(small_config(*overrides).policy, data.items, seeded_rng(3))
    policy.fit(data.window)
    path = save_model(policy, tmp_path / "v0007")
    assert path.name == f"v0007{suffix}"
    loaded = load_model(path)
    users = np.arange(data.window.n_users)
    ctx = context(seen=data.seen)
    for _ in range(2):  # the exploration stream continues from where it was saved
        assert_same(loaded.recommend(users, 5, ctx), policy.recommend(users, 5, ctx))


def test_a_model_file_cannot_name_an_arbitrary_class(small_config: MakeConfig,
                                                     tmp_path: Path) -> None:
    policy = make_policy(small_config("policy=popular").policy, planted().items, seeded_rng())
    path = save_model(policy, tmp_path / "v0001")
    with np.load(path, allow_pickle=False) as stored:
        arrays = {k: stored[k] for k in stored.files}
    manifest = json.loads(arrays[MANIFEST].tobytes())
    manifest["policy"] = "subprocess.Popen"
    arrays[MANIFEST] = np.frombuffer(json.dumps(manifest).encode(), dtype=np.uint8)
    np.savez(tmp_path / "evil.npz", **arrays)
    with pytest.raises(TypeError, match="not a Policy class"):
        load_model(tmp_path / "evil.npz")


def test_registry_columns_are_typed_and_read_back_as_written() -> None:
    records = [ModelRecord(1, 0, "deployed", train_days=[0], offline={}, artifact="models/v1.npz"),
               ModelRecord(2, 1, "rejected", train_days=[0, 1], offline={"ndcg": 0.5},
                           problems=["volume: low"], config={"name": "als", "factors": 8})]
    frame = pd.DataFrame([r.__dict__ for r in records])
    table = registry_table(frame)
    assert table.schema.field("train_days").type == pa.list_(pa.int32())
    assert pa.types.is_struct(table.schema.field("offline").type)
    assert pa.types.is_struct(table.schema.field("config").type)
    buffer = pa.BufferOutputStream()
    pq.write_table(table, buffer)
    back = read_registry(pa.BufferReader(buffer.getvalue()))
    for column in ("train_days", "offline", "problems", "config", "artifact", "gate_passed"):
        assert list(back[column]) == list(frame[column]), column


def test_an_old_registry_of_json_text_still_reads(tmp_path: Path) -> None:
    old = pd.DataFrame({"version": [1], "train_days": ["[0, 1]"], "offline": ['{"ndcg": 0.4}'],
                        "problems": ["[]"], "config": ['{"name": "als"}']})
    old.to_parquet(tmp_path / "registry.parquet")
    back = read_registry(tmp_path / "registry.parquet")
    assert back.train_days[0] == [0, 1] and back.offline[0] == {"ndcg": 0.4}


def test_a_run_keeps_its_item_table_log_and_deployed_models(tmp_path: Path) -> None:
    cfg = recloop.config(*SMALL, "days=4", "policy=popular", "pipeline.gate_ratio=100")
    recloop.run(cfg, tmp_path / "run")
    run = recloop.load_run(tmp_path / "run")
    assert list(run.items.columns) == ["item", "genre", "release_day"]  # public facts only
    assert run.items.item.tolist() == list(range(cfg.catalog.n_items))
    assert set(run.log(days=[1, 2]).day) == {1, 2} and len(run.log()) > len(run.log([1]))
    kept = run.registry[run.registry.artifact != ""]
    assert set(kept.status) == {"deployed"} and (run.registry.status == "rejected").any()
    assert all(a.startswith("models/") and (run.path / a).is_file() for a in kept.artifact)
    assert type(run.model(int(kept.version.iloc[-1]))).__name__ == "PopularPolicy"
    schema = pq.read_schema(tmp_path / "run" / "registry.parquet")
    assert pa.types.is_list(schema.field("train_days").type)


@pytest.mark.parametrize(("keep", "statuses"), [("all", {"deployed", "rejected"}),
                                                ("none", set())])
def test_keep_models_chooses_which_candidates_are_saved(
        small_config: MakeConfig, tmp_path: Path, keep: str, statuses: set[str]) -> None:
    result = simulate(small_config("days=4", "policy=popular", "pipeline.gate_ratio=100",
                                   f"pipeline.keep_models={keep}"), tmp_path)
    reg = result.registry
    assert set(reg[reg.artifact != ""].status) == statuses
    assert len(list((tmp_path / "models").glob("v*"))) == (reg.artifact != "").sum()
