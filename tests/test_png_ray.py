"""Optional extras: PNG export (kaleido + a browser) and the Ray cluster launcher config."""

from __future__ import annotations

import sys
from pathlib import Path

import plotly.graph_objects as go
import pytest
import yaml

from recloop.experiments.png import export_png, slug
from recloop.experiments.preflight import CONF_DIR

FIGURES = [("Exposure (Lorenz)", go.Figure(go.Scatter(x=[0, 1], y=[0, 1]))),
           ("A/B daily effect", go.Figure(go.Bar(x=["a"], y=[1])))]


def test_without_kaleido_the_export_is_skipped_with_a_reason(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "kaleido", None)  # import kaleido now raises ImportError
    written, reason = export_png(FIGURES, tmp_path / "png")
    assert written == [] and "pip install 'recloop[png]'" in reason
    assert not (tmp_path / "png").exists() and not list(tmp_path.iterdir())


def test_with_kaleido_and_a_browser_every_figure_becomes_a_png(tmp_path: Path) -> None:
    pytest.importorskip("kaleido")
    written, reason = export_png(FIGURES, tmp_path / "png")
    if reason:
        pytest.skip(f"no browser for kaleido here: {reason}")
    assert [p.name for p in written] == ["01_exposure_lorenz.png", "02_a_b_daily_effect.png"]
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in written)
    assert not (tmp_path / "png.partial").exists()


def test_slug_is_file_name_safe() -> None:
    assert slug("Offline versus online, plotted") == "offline_versus_online_plotted"
    assert slug("???") == "figure"


def test_ray_cluster_launcher_joins_a_running_cluster() -> None:
    """The config extends the plugin's ``ray`` launcher; joining needs address auto and no
    object store size (ray refuses one when connecting). Composed when the plugin is here."""
    text = (CONF_DIR / "hydra" / "launcher" / "ray_cluster.yaml").read_text()
    cfg = yaml.safe_load(text)
    assert cfg["defaults"] == ["ray"]
    assert cfg["ray"]["init"] == {"address": "auto", "object_store_memory": None}
    pytest.importorskip("hydra_plugins.hydra_ray_launcher")
    from hydra import compose, initialize_config_dir

    from recloop.experiments.schema import register_schemas

    register_schemas()
    with initialize_config_dir(str(CONF_DIR), version_base=None):
        composed = compose("config", ["hydra/launcher=ray_cluster"], return_hydra_config=True)
    assert composed.hydra.launcher.ray.init.address == "auto"
    assert "RayLauncher" in composed.hydra.launcher._target_
