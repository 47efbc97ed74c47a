"""Check every job of a command line before Hydra creates any run directory.

A sweep expands to its jobs; each is composed and range-checked. The first problem stops
everything with one line that names the field and what is allowed, so a typo in job 7 of
a sweep does not surface an hour in.

Configs beside the packaged ones (``--config-dir DIR``, ``hydra.searchpath=[file://DIR]``)
are searched here as Hydra searches them, so a plug-in policy's YAML gets the same checks.
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
from recloop.experiments.schema import register_schemas, run_config
from recloop.sim.checks import validate
from recloop.sim.config import ConfigError, RunConfig

CONF_DIR = Path(conf.__file__).resolve().parent
OPTIONAL_POLICIES = (("ab.treatment", "policy@ab.treatment"), ("shadow", "policy@shadow"))
DIR_FLAGS = ("--config-dir", "-cd")
SEARCHPATH = "hydra.searchpath"
SKIP_FLAGS = ("--config-name", "-cn", "--config-path", "-cp", "--help", "-h", "--hydra-help",
              "--info", "-i", "--cfg", "-c", "--shell-completion", "-sc")


def check_command_line(args: Sequence[str]) -> None:
    """Raise ``ConfigError`` if any job the arguments describe is invalid."""
    if any(a.split("=")[0] in SKIP_FLAGS for a in args):
        return  # Hydra handles these itself
    args, dirs = split_config_dirs(args)
    overrides = [a for a in args if not a.startswith("-") and not a.startswith("hydra")]
    if not {"-m", "--multirun"} & set(args):
        _refuse_sweep_presets(overrides, dirs)
    for item in overrides:
        if item.startswith(("+", "~")):
            raise ConfigError(f"{item!r}: adding or deleting keys is not supported; every "
                              "field already exists (list them with: recloop --cfg job)")
    try:
        jobs = list(expand_sweep(overrides))
    except HydraException:
        return  # sweeps such as glob() need Hydra's loader: each job is checked when it starts
    for job in jobs:
        check_job(job, dirs)


def split_config_dirs(args: Sequence[str]) -> tuple[list[str], list[Path]]:
    """The arguments without ``--config-dir`` and its value, and the extra config folders
    (``--config-dir``'s, then ``hydra.searchpath``'s ``file://`` entries), made absolute."""
    rest: list[str] = []
    dirs: list[Path] = []
    items = iter(args)
    for arg in items:
        flag, eq, value = arg.partition("=")
        if flag in DIR_FLAGS:
            dirs.append(Path(value if eq else next(items, "")).resolve())
        elif flag == SEARCHPATH:
            entries = OverridesParser.create().parse_override(arg).value()
            dirs += [Path(str(e)[len("file://"):]).resolve() for e in entries or []
                     if str(e).startswith("file://")]
        else:
            rest.append(arg)
    return rest, dirs


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


def check_job(overrides: list[str], config_dirs: Sequence[Path] = ()) -> RunConfig:
    """Compose one job's config (the packaged configs, then ``config_dirs``) and range-check
    it; returns the typed config."""
    for folder in config_dirs:
        if not Path(folder).is_dir():
            raise ConfigError(f"config dir {str(folder)!r} is not a folder")
    _check_group_choices(overrides, config_dirs)
    register_schemas()
    search = [f"{SEARCHPATH}=[{','.join(f'file://{Path(d).resolve()}' for d in config_dirs)}]"]
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base=None):
            cfg = compose(config_name="config",
                          overrides=[*overrides, *(search if config_dirs else [])])
        run_cfg = run_config(cfg)
    except (HydraException, OmegaConfBaseException) as err:
        raise ConfigError(_explain(err)) from None
    finally:
        GlobalHydra.instance().clear()
    check_overrides(overrides, run_cfg)
    validate(run_cfg)
    return run_cfg


def _refuse_sweep_presets(overrides: Sequence[str], config_dirs: Sequence[Path] = ()) -> None:
    """A preset that declares a sweep, run without ``-m``, would silently run one job."""
    for item in overrides:
        key, _, name = item.partition("=")
        presets = [d / "experiment" / f"{name}.yaml" for d in (*config_dirs, CONF_DIR)]
        preset = next((p for p in presets if p.is_file()), None)
        if key != "experiment" or preset is None:
            continue
        params = OmegaConf.select(OmegaConf.load(preset), "hydra.sweeper.params") or {}
        if params:
            swept = ", ".join(str(k) for k in params)
            raise ConfigError(f"experiment={name} is a sweep (over {swept}): run it with -m, "
                              f"e.g. recloop -m experiment={name}")


def group_options(group: str, config_dirs: Sequence[Path] = ()) -> list[str]:
    """Names of the YAML files in a config group, packaged or in ``config_dirs``."""
    folders = [CONF_DIR, *map(Path, config_dirs)]
    return sorted({p.stem for d in folders for p in (d / group).glob("*.yaml")})


def _check_group_choices(overrides: list[str], config_dirs: Sequence[Path] = ()) -> None:
    """``group=choice`` and ``group@package=choice`` must name a file of the group."""
    groups = {p.name for p in CONF_DIR.iterdir() if p.is_dir()}
    for item in overrides:
        key, _, value = item.lstrip("+~").partition("=")
        group = key.partition("@")[0]
        options = group_options(group, config_dirs)
        if group in groups and value not in options:
            allowed = ", ".join(options)
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
