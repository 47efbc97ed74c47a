"""Check every job of a command line before Hydra creates any run directory.

A sweep expands to its jobs; each is composed and range-checked. The first problem stops
everything with one line that names the field and what is allowed, so a typo in job 7 of
a sweep does not surface an hour in.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import HydraException
from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from recloop import conf
from recloop.experiments.override_checks import check_overrides
from recloop.experiments.schema import register_schemas
from recloop.sim.checks import validate
from recloop.sim.config import ConfigError, RunConfig

CONF_DIR = Path(conf.__file__).resolve().parent
OPTIONAL_POLICIES = (("ab.treatment", "policy@ab.treatment"), ("shadow", "policy@shadow"))
SKIP_FLAGS = ("--config-name", "-cn", "--config-path", "-cp", "--config-dir", "-cd", "--help",
              "-h", "--hydra-help", "--info", "-i", "--cfg", "-c", "--shell-completion", "-sc")


def check_command_line(args: Sequence[str]) -> None:
    """Raise ``ConfigError`` if any job the arguments describe is invalid."""
    if any(a.split("=")[0] in SKIP_FLAGS for a in args):
        return  # Hydra handles these itself
    overrides = [a for a in args if not a.startswith("-") and not a.startswith("hydra")]
    if not {"-m", "--multirun"} & set(args):
        _refuse_sweep_presets(overrides)
    for item in overrides:
        if item.startswith(("+", "~")):
            raise ConfigError(f"{item!r}: adding or deleting keys is not supported; every "
                              "field already exists (list them with: recloop --cfg job)")
    try:
        jobs = list(expand_sweep(overrides))
    except HydraException:
        return  # sweeps such as glob() need Hydra's loader: each job is checked when it starts
    for job in jobs:
        check_job(job)


def expand_sweep(overrides: Sequence[str]) -> Iterator[list[str]]:
    """The cartesian product of sweep overrides, as one override list per job."""
    try:
        parsed = OverridesParser.create().parse_overrides(list(overrides))
    except HydraException as err:
        raise ConfigError(_first_line(err)) from None
    choices: list[list[str]] = []
    for override in parsed:
        key = override.get_key_element()
        values = override.sweep_string_iterator() if override.is_sweep_override() else None
        if values is not None and not (values := list(values)):
            raise ConfigError(f"{override.input_line}: the sweep is empty, so no job would run")
        choices.append([f"{key}={v}" for v in values] if values else [str(override.input_line)])
    for combo in itertools.product(*choices):
        yield list(combo)


def check_job(overrides: list[str]) -> RunConfig:
    """Compose one job's config and range-check it; returns the typed config."""
    _check_group_choices(overrides)
    register_schemas()
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base=None):
            cfg = compose(config_name="config", overrides=overrides)
        run_cfg = OmegaConf.to_object(cfg)
    except (HydraException, OmegaConfBaseException) as err:
        raise ConfigError(_explain(err)) from None
    finally:
        GlobalHydra.instance().clear()
    assert isinstance(run_cfg, RunConfig)
    check_overrides(overrides, run_cfg)
    validate(run_cfg)
    return run_cfg


def _refuse_sweep_presets(overrides: Sequence[str]) -> None:
    """A preset that declares a sweep, run without ``-m``, would silently run one job."""
    for item in overrides:
        key, _, name = item.partition("=")
        preset = CONF_DIR / "experiment" / f"{name}.yaml"
        if key != "experiment" or not preset.is_file():
            continue
        params = OmegaConf.select(OmegaConf.load(preset), "hydra.sweeper.params") or {}
        if params:
            swept = ", ".join(str(k) for k in params)
            raise ConfigError(f"experiment={name} is a sweep (over {swept}): run it with -m, "
                              f"e.g. recloop -m experiment={name}")


def group_options(group: str) -> list[str]:
    """Names of the YAML files in a config group."""
    return sorted(p.stem for p in (CONF_DIR / group).glob("*.yaml"))


def _check_group_choices(overrides: list[str]) -> None:
    """``group=choice`` and ``group@package=choice`` must name a file of the group."""
    groups = {p.name for p in CONF_DIR.iterdir() if p.is_dir()}
    for item in overrides:
        key, _, value = item.lstrip("+~").partition("=")
        group = key.partition("@")[0]
        if group in groups and value not in group_options(group):
            allowed = ", ".join(group_options(group))
            raise ConfigError(f"{key}={value!r} is not a known choice: allowed {allowed}")


def _explain(err: Exception) -> str:
    """One line from a Hydra/OmegaConf error, naming the offending key where known."""
    cause = err if isinstance(err, OmegaConfBaseException) else err.__cause__
    if isinstance(cause, OmegaConfBaseException) and getattr(cause, "full_key", None):
        key = str(cause.full_key)  # type: ignore[attr-defined]
        hint = next((f" (choose a policy first: {how}=<name>)" for node, how in OPTIONAL_POLICIES
                     if key.startswith(node + ".")), "")
        return f"{key}: {_first_line(cause.msg or cause)}{hint}"  # type: ignore[attr-defined]
    return _first_line(err)


def _first_line(err: object) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__
