"""Plug-in policies: the README's example, written outside recloop, checked like a built-in."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import recloop
from recloop.experiments.preflight import check_command_line, split_config_dirs
from recloop.policies.registry import make_policy
from recloop.policies.types import ItemMetadata
from recloop.sim.config import ConfigError

README = Path(__file__).parents[1] / "README.md"


def readme_block(section: str, language: str) -> str:
    """The first ``language`` code block of a README section."""
    text = README.read_text(encoding="utf-8").split(f"## {section}\n", 1)[1].split("\n## ", 1)[0]
    match = re.search(rf"```{language}\n(.*?)```", text, re.DOTALL)
    assert match, f"no {language} block in README section {section!r}"
    return match.group(1)


def write_plugin(folder: Path, config_dir: str = "myconf") -> Path:
    """The README's ``newest.py`` and its YAML, as a user would save them."""
    (folder / "newest.py").write_text(readme_block("Your own policy", "python"))
    (folder / config_dir / "policy").mkdir(parents=True)
    (folder / config_dir / "policy" / "newest.yaml").write_text(
        readme_block("Your own policy", "yaml"))
    return folder / config_dir


@pytest.fixture
def plugin_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A working directory holding the plug-in; the import leaves no trace for later tests."""
    write_plugin(tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    yield tmp_path
    sys.modules.pop("newest", None)


def test_a_plugin_is_typed_by_its_own_config_class_and_serves(plugin_dir: Path) -> None:
    cfg = recloop.config("policy=newest", "users=small", "catalog=small", config_dir="myconf")
    assert type(cfg.policy).__name__ == "NewestConfig" and cfg.policy.days_per_point == 1.0
    release = np.array([0, 5, 3, 9, 1], dtype=np.int16)
    items = ItemMetadata(np.zeros(5, np.int16), release)
    policy = make_policy(cfg.policy, items, np.random.default_rng(0))
    ctx = type("Ctx", (), {"available": np.ones(5, bool), "seen": np.zeros((2, 5), bool),
                           "candidates": None})()
    assert policy.recommend(np.array([0, 1]), 3, ctx).items.tolist() == [[3, 1, 2]] * 2


@pytest.mark.parametrize(("overrides", "message"), [
    (["policy.days_per_point=0"], r"^policy\.days_per_point=0\.0 is out of range: allowed"),
    (["policy.days_per_point=soon"], r"^policy\.days_per_point: .*soon"),
    (["policy.days=3"], r"^policy\.days: "),
    (["policy._target_=nowhere.Newest"], r"^policy\._target_='nowhere\.Newest' cannot be"),
    (["policy._target_=newest.NewestConfig"], r"^policy\._target_=.* not a recloop Policy"),
    (["policy@shadow=newest", "shadow.days_per_point=-1"], r"^shadow\.days_per_point="),
    (["policy@ab.treatment=newest", "ab.share=0.5", "ab.treatment.days_per_point=0"],
     r"^ab\.treatment\.days_per_point="),
])
def test_plugin_fields_and_target_are_checked_in_every_slot(
        plugin_dir: Path, overrides: list[str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        recloop.config("policy=newest", *overrides, config_dir="myconf")


def test_a_yaml_field_the_config_class_lacks_is_named(plugin_dir: Path) -> None:
    yaml = plugin_dir / "myconf" / "policy" / "newest.yaml"
    yaml.write_text(yaml.read_text() + "days_per_pont: 2.0\n")
    with pytest.raises(ConfigError, match=r"^policy\.days_per_pont: not a field of NewestConfig$"):
        recloop.config("policy=newest", config_dir="myconf")


def test_group_choices_include_the_users_folder_only_when_given(plugin_dir: Path) -> None:
    with pytest.raises(ConfigError, match=r"^policy='newest' is not a known choice"):
        recloop.config("policy=newest")
    with pytest.raises(ConfigError, match=r"not a known choice: allowed .*newest"):
        recloop.config("policy=nope", config_dir="myconf")


@pytest.mark.parametrize("flags", [
    ["--config-dir", "myconf"], ["--config-dir=myconf"], ["-cd", "myconf"],
    ["hydra.searchpath=[file://myconf]"],
])
def test_command_line_with_a_config_dir_is_still_checked(plugin_dir: Path,
                                                         flags: list[str]) -> None:
    rest, dirs = split_config_dirs([*flags, "policy=newest"])
    assert rest == ["policy=newest"] and dirs == [plugin_dir / "myconf"]
    check_command_line([*flags, "policy=newest"])
    with pytest.raises(ConfigError, match=r"^policy\.days_per_point=0\.0"):
        check_command_line([*flags, "-m", "policy=newest", "policy.days_per_point=2,0"])


def run_python(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True,
                          timeout=600, check=False)


@pytest.mark.slow
def test_from_a_users_own_folder_with_conf_and_sim_py(tmp_path: Path) -> None:
    """A folder outside the repo, holding names that once shadowed recloop's packages."""
    (tmp_path / "sim.py").write_text("raise ImportError('the user sim.py was imported')\n")
    write_plugin(tmp_path, config_dir="conf")
    (tmp_path / "conf" / "__init__.py").write_text("raise ImportError('user conf imported')\n")
    done = run_python(["-c", "import recloop; print(recloop.__version__)"], tmp_path)
    assert done.returncode == 0, done.stderr
    (tmp_path / "example.py").write_text(readme_block("From Python", "python"))
    done = run_python(["example.py"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert [line.split()[0] for line in done.stdout.splitlines()] == ["popular", "als"]
    # the console script's sys.path[0] is its bin folder, not the working directory
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "recloop").write_text(
        "import sys\nfrom recloop.experiments.run import cli\nsys.exit(cli())\n")
    cli = ["bin/recloop", "--config-dir", "conf", "policy=newest", "users=small",
           "catalog=small", "days=3", "progress=false"]
    bad = run_python([*cli, "policy.days_per_point=0"], tmp_path)
    assert bad.returncode == 2 and not list(tmp_path.glob("runs/*/*newest*"))
    assert bad.stderr.strip() == ("recloop: config error: policy.days_per_point=0.0 is out of "
                                  "range: allowed a number > 0")
    done = run_python(cli, tmp_path)
    assert done.returncode == 0, done.stderr
    (run,) = [p.parent for p in tmp_path.glob("runs/*/*newest*/run.json")]
    assert json.loads((run / "run.json").read_text())["policy"] == "newest"
    assert "_target_: newest.NewestPolicy" in (run / "config.yaml").read_text()
