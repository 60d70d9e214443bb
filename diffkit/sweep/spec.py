"""The sweep file: a base config, overrides for every run, named variants and a grid of values.

    base: configs/default.yaml      # relative to the sweep file or the working dir
    overrides: {train.steps: 500}   # optional, applied to every run
    budget: 2m                      # optional: train.budget of every run (instead of train.steps),
                                    # so that arms of different speed train for the same time
    variants:                       # optional: named sets of overrides, each crossed with the grid
      ddpm: {loss.weighting: min_snr}
      flow: {scheduler: {name: rectified_flow, prediction_type: velocity}}
    grid:                           # every combination (times every variant) is one run
      loss.name: [l1, l2]
      seed: [0, 1]
    name: "{loss.name}-s{seed}"     # optional; default: the grid values, e.g. l1-s0
    dir: runs/sweeps/my_sweep       # optional; default runs/sweeps/<file stem>
    launcher: {name: local, jobs: 2} # optional; where the runs train (default: local)
    posthoc_ema: [0.05, 0.08, 0.12] # optional; EMA lengths each run is scored at after training

A run's directory is its name. Runs of a sweep written before short names
existed (``loss.name=l1,seed=0``) keep their directories.

``posthoc_ema`` makes the EMA length an axis without retraining: the runs train with
``ema.name=power`` (added to the overrides unless ema.name is set) and, once trained,
each is scored at every length (``diffkit eval RUN --ema ...``); ``compare`` shows the
lengths as the hyperparameter ``ema.sigma_rel``.

A variant's runs are named ``<variant>-<grid values>`` (``variant`` is a field of
the ``name`` template).
"""

from __future__ import annotations

import itertools
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from diffkit.config import dotted, read_yaml
from diffkit.config.length import parse_budget
from diffkit.errors import ConfigError, closest
from diffkit.runner.posthoc import parse_lengths

KEYS = ("base", "overrides", "grid", "name", "dir", "launcher", "variants", "budget", "posthoc_ema")
_UNSAFE = re.compile(r"[^\w.,=+\-\[\]{}:]")
_UNSAFE_SHORT = re.compile(r"[^\w.,=+\-]+")
_FIELD = re.compile(r"\{([^{}:]+)(?::([^{}]*))?\}")
#: names the sweep directory uses itself (execute: logs, sweep.json; board: comparison).
RESERVED = ("logs", "sweep.json", "comparison")
#: short prefixes of numeric grid values, by the key's last part (others use the part itself).
PREFIXES = {"seed": "s", "num_timesteps": "T", "batch_size": "bs", "steps": "steps", "image_size": "px"}
MAX_NAME = 120


@dataclass
class RunSpec:
    """One run of a sweep: its directory name, its values (the variant's name and the grid
    values) and the config overrides they stand for (the variant's, then the grid's)."""

    name: str
    values: dict[str, Any]
    legacy: bool = False  # the directory has the long name of sweeps before short names
    overrides: dict[str, Any] = field(default_factory=dict)  # the variant's and grid values


@dataclass
class Sweep:
    """A parsed sweep file: the base config, fixed overrides, the grid and the runs it expands to."""

    path: Path
    base: Path | None
    overrides: dict[str, Any]
    grid: dict[str, list[Any]]
    dir: Path
    runs: list[RunSpec] = field(default_factory=list)
    launcher: dict[str, Any] = field(default_factory=dict)
    name: str | None = None
    notes: list[str] = field(default_factory=list)
    variants: dict[str, dict[str, Any]] = field(default_factory=dict)
    posthoc_ema: list[float] = field(default_factory=list)

    def varying(self) -> list[str]:
        """Config keys with more than one value across the runs (grid and variants):
        the hyperparameters this sweep compares."""
        keys = [k for k, v in self.grid.items() if len(v) > 1]
        for key in dict.fromkeys(k for extra in self.variants.values() for k in extra):
            values = {format_value(extra.get(key)) for extra in self.variants.values()}
            if len(values) > 1 and key not in keys:
                keys.append(key)
        return keys

    def run_overrides(self, run: RunSpec) -> list[str]:
        """``key=value`` arguments for `run`: the shared overrides, ``run.hparams`` (the
        varying keys, for trackers), then its variant's and grid values."""
        marked = {"run.hparams": self.varying()} if self.varying() and "run.hparams" not in self.overrides else {}
        return [f"{k}={format_value(v)}" for k, v in {**self.overrides, **marked, **run.overrides}.items()]


def format_value(value: Any) -> str:
    """A value as YAML flow text that ``key=value`` parsing reads back equal."""
    text = yaml.safe_dump(value, default_flow_style=True, width=10**6).strip()
    return text[: -len("...")].strip() if text.endswith("\n...") else text


def run_name(values: dict[str, Any]) -> str:
    """The long name of sweeps before short names: ``{"loss.name": "l1", "seed": 0}`` ->
    ``loss.name=l1,seed=0``."""
    if not values:
        return "base"
    text = ",".join(f"{k}={format_value(v).replace(', ', ',')}" for k, v in values.items())
    return _UNSAFE.sub("_", text)


def token(key: str, value: Any) -> str:
    """One grid value in a short name: strings as they are (``cosine``), numbers after a
    prefix from the key (``seed`` 0 -> ``s0``, ``num_timesteps`` 300 -> ``T300``,
    ``lr`` 0.001 -> ``lr0.001``), booleans as ``clip_sample`` / ``no-clip_sample``."""
    part = key.rsplit(".", 1)[-1]
    if isinstance(value, bool):
        return part if value else f"no-{part}"
    if isinstance(value, str):
        return value
    return PREFIXES.get(part, part) + format_value(value).replace(", ", ",")


def short_name(values: dict[str, Any]) -> str:
    """``{"loss.name": "l1", "scheduler.name": "cosine", "seed": 0}`` -> ``l1-cosine-s0``."""
    return "-".join(token(k, v) for k, v in values.items()) or "base"


def template_name(template: str, values: dict[str, Any], where: Path) -> str:
    """Fill ``{key}`` or ``{key:format}`` fields of `template` from `values` (the
    overrides and grid values of a run)."""

    def fill(match: re.Match) -> str:
        key, spec = match.group(1).strip(), match.group(2)
        if key not in values:
            hint = closest(key, values)
            raise ConfigError(
                f"{where}: name {template!r} uses {{{key}}}, which is not a grid or override key; "
                + (f"{hint} " if hint else "")
                + f"keys: {', '.join(values)}"
            )
        value = values[key]
        if spec:
            try:
                return format(value, spec)
            except (TypeError, ValueError) as e:
                raise ConfigError(f"{where}: name {template!r}: {{{key}:{spec}}} cannot format {value!r}: {e}") from e
        return value if isinstance(value, str) else format_value(value).replace(", ", ",")

    return _FIELD.sub(fill, template)


def safe(name: str) -> str:
    """`name` as one directory name: no separators or spaces, no leading dot, at most MAX_NAME characters."""
    return _UNSAFE_SHORT.sub("_", name).strip("._")[:MAX_NAME] or "run"


def name_runs(sweep: Sweep) -> None:
    """Give every run its directory name: the ``name`` template, else the grid values;
    if the default short names clash, the long ``key=value`` names. A run whose
    short-named directory does not exist but whose long-named one does keeps the
    long one (a sweep started before short names)."""
    long_names = [run_name(r.values) for r in sweep.runs]
    if sweep.name is not None:
        names = [safe(template_name(sweep.name, {**sweep.overrides, **r.values}, sweep.path)) for r in sweep.runs]
    else:
        names = [safe(short_name(r.values)) for r in sweep.runs]
        if len(set(names)) < len(names) or set(names) & set(RESERVED):
            names = long_names
    clash = next((n for n in names if names.count(n) > 1), None)
    if clash:
        fix = "add the keys that tell them apart to name" if sweep.name is not None else "make the grid values distinct"
        raise ConfigError(f"{sweep.path}: two runs would share the directory {clash!r}; {fix}")
    reserved = next((n for n in names if n in RESERVED), None)
    if reserved:
        raise ConfigError(f"{sweep.path}: a run may not be named {reserved!r}, the sweep directory uses that name")
    for run, name, long in zip(sweep.runs, names, long_names):
        run.name = name
        if name != long and not (sweep.dir / name).exists() and (sweep.dir / long / "config.yaml").is_file():
            run.name, run.legacy = long, True
    legacy = sum(r.legacy for r in sweep.runs)
    if legacy:
        sweep.notes.append(
            f"{legacy} of {len(sweep.runs)} runs keep their directories from before short run names "
            f"(e.g. {next(r.name for r in sweep.runs if r.legacy)}); move the sweep dir away to start afresh"
        )


def _sweep_dir(path: Path, directory: str | Path | None, value: Any) -> Path:
    """The sweep directory: `directory` (--dir), else the file's ``dir`` (a path string),
    else ``runs/sweeps/<file stem>``."""
    if directory:
        return Path(directory)
    if value is None:
        return Path("runs") / "sweeps" / path.stem
    if not isinstance(value, str) or not value.strip() or any(c in value for c in "\n\r\0"):
        raise ConfigError(f"{path}: dir must be a path (one line of text), got {value!r}")
    return Path(value)


def load_sweep(path: str | Path, directory: str | Path | None = None) -> Sweep:
    """Read and check a sweep file; `directory` overrides its ``dir``."""
    path = Path(path)
    data = read_yaml(path)
    unknown = sorted(set(data) - set(KEYS))
    if unknown:
        raise ConfigError(f"{path}: unknown key {unknown[0]!r}; a sweep file has {', '.join(KEYS)}")
    overrides = data.get("overrides") or {}
    grid = data.get("grid") or {}
    variants = data.get("variants") or {}
    for key, value in (("overrides", overrides), ("grid", grid), ("variants", variants)):
        if not isinstance(value, dict):
            raise ConfigError(f"{path}: {key} must be a mapping of config keys, got {value!r}")
    for name, value in variants.items():
        if not isinstance(value, dict) or _UNSAFE.search(str(name)):
            raise ConfigError(
                f"{path}: variants.{name} must be a mapping of config keys under a plain name, got {value!r}"
            )
    grid = dotted(grid)
    for key, values in grid.items():
        if not isinstance(values, list) or not values:
            raise ConfigError(f"{path}: grid.{key} must be a non-empty list of values, got {values!r}")
    sweep = Sweep(
        path=path,
        base=_resolve_base(path, data.get("base")),
        overrides=_with_budget(path, data.get("budget"), dotted(overrides)),
        grid={str(k): list(v) for k, v in grid.items()},
        dir=_sweep_dir(path, directory, data.get("dir")),
        launcher=_launcher_node(path, data.get("launcher")),
        name=_template(path, data.get("name")),
        variants={str(k): dotted(v) for k, v in variants.items()},
        posthoc_ema=_posthoc_lengths(path, data.get("posthoc_ema")),
    )
    if sweep.posthoc_ema and "ema.name" not in {**sweep.overrides, **sweep.grid}:
        sweep.overrides["ema.name"] = "power"
    keys = list(sweep.grid)
    arms: dict[str | None, dict[str, Any]] = {None: {}}
    if sweep.variants:
        arms = {str(k): v for k, v in sweep.variants.items()}
    for variant, extra in arms.items():
        for combo in itertools.product(*sweep.grid.values()):
            values = dict(zip(keys, combo))
            named = values if variant is None else {"variant": variant, **values}
            sweep.runs.append(RunSpec("", named, overrides={**extra, **values}))
    name_runs(sweep)
    for note in sweep.notes:
        print(f"diffkit sweep: note: {note}", file=sys.stderr)
    return sweep


def _with_budget(path: Path, budget: Any, overrides: dict[str, Any]) -> dict[str, Any]:
    """``budget: 2m`` -> ``train.budget=2m`` first among the overrides (a grid may still vary it)."""
    if budget is None:
        return overrides
    if "train.budget" in overrides:
        raise ConfigError(f"{path}: budget and overrides train.budget both set the budget; state it once")
    try:
        parse_budget(budget, key="budget")
    except ConfigError as e:
        raise ConfigError(f"{path}: {e}") from None
    return {"train.budget": str(budget), **overrides}


def _posthoc_lengths(path: Path, value: Any) -> list[float]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
        raise ConfigError(
            f"{path}: posthoc_ema must be a list of relative EMA lengths, e.g. [0.05, 0.08], got {value!r}"
        )
    return parse_lengths(",".join(str(v) for v in value), f"{path}: posthoc_ema")


def _template(path: Path, name: Any) -> str | None:
    if name is not None and (not isinstance(name, str) or not name.strip()):
        raise ConfigError(f'{path}: name must be a text template such as "{{loss.name}}-s{{seed}}", got {name!r}')
    return name


def _resolve_base(path: Path, base: Any) -> Path | None:
    if base is None:
        return None
    if not isinstance(base, str):
        raise ConfigError(f"{path}: base must be a config file path, got {base!r}")
    for candidate in (path.parent / base, Path(base)):
        if candidate.is_file():
            return candidate.resolve()
    raise ConfigError(f"{path}: base config {base!r} not found next to the sweep file or in {Path.cwd()}")


def _launcher_node(path: Path, value: Any) -> dict[str, Any]:
    """``launcher: NAME`` or ``launcher: {name: NAME, key: value, ...}`` -> a component node."""
    if value is None:
        return {}
    if isinstance(value, str):
        return {"name": value}
    if not isinstance(value, dict) or not isinstance(value.get("name", ""), str):
        raise ConfigError(f"{path}: launcher must be a name or {{name: ..., key: value}}, got {value!r}")
    return dict(value)
