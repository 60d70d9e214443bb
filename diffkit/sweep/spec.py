"""The sweep file: a base config, overrides for every run, named variants and a grid of values.

    base: configs/default.yaml      # relative to the sweep file or the working dir
    overrides: {train.steps: 500}   # optional, applied to every run
    variants:                       # optional: named sets of overrides, each crossed with the grid
      ddpm: {loss.weighting: min_snr}
      flow: {scheduler: {name: rectified_flow, prediction_type: velocity}}
    grid:                           # every combination (times every variant) is one run
      loss.name: [l1, l2]
      seed: [0, 1]
    dir: runs/sweeps/my_sweep       # optional; default runs/sweeps/<file stem>

A variant's runs are named ``variant=<name>,<grid values>``.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from diffkit.config import read_yaml
from diffkit.errors import ConfigError

KEYS = ("base", "overrides", "grid", "dir", "variants")
_UNSAFE = re.compile(r"[^\w.,=+\-\[\]{}:]")


@dataclass
class RunSpec:
    """One run of a sweep: its directory name, its values (the variant's name and the grid
    values) and the config overrides they stand for (the variant's, then the grid's)."""

    name: str
    values: dict[str, Any]
    overrides: dict[str, Any] = field(default_factory=dict)


@dataclass
class Sweep:
    """A parsed sweep file: the base config, fixed overrides, the grid and the runs it expands to."""

    path: Path
    base: Path | None
    overrides: dict[str, Any]
    grid: dict[str, list[Any]]
    dir: Path
    runs: list[RunSpec] = field(default_factory=list)
    variants: dict[str, dict[str, Any]] = field(default_factory=dict)

    def run_overrides(self, run: RunSpec) -> list[str]:
        """``key=value`` arguments for `run`: the shared overrides, then its variant's and grid values."""
        return [f"{k}={format_value(v)}" for k, v in {**self.overrides, **run.overrides}.items()]


def format_value(value: Any) -> str:
    """A value as YAML flow text that ``key=value`` parsing reads back equal."""
    text = yaml.safe_dump(value, default_flow_style=True, width=10**6).strip()
    return text[: -len("...")].strip() if text.endswith("\n...") else text


def dotted(mapping: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """{"a": {"b": 1}} -> {"a.b": 1}; lists stay values."""
    out: dict[str, Any] = {}
    for key, value in mapping.items():
        full = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            out.update(dotted(value, full + "."))
        else:
            out[full] = value
    return out


def run_name(values: dict[str, Any]) -> str:
    """``{"loss.name": "l1", "seed": 0}`` -> ``loss.name=l1,seed=0`` (safe as a directory name)."""
    if not values:
        return "base"
    text = ",".join(f"{k}={format_value(v).replace(', ', ',')}" for k, v in values.items())
    return _UNSAFE.sub("_", text)


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
            raise ConfigError(f"{path}: variants.{name} must be a mapping of config keys under a plain name, got {value!r}")
    grid = dotted(grid)
    for key, values in grid.items():
        if not isinstance(values, list) or not values:
            raise ConfigError(f"{path}: grid.{key} must be a non-empty list of values, got {values!r}")
    sweep = Sweep(
        path=path,
        base=_resolve_base(path, data.get("base")),
        overrides=dotted(overrides),
        grid={str(k): list(v) for k, v in grid.items()},
        dir=Path(directory or data.get("dir") or Path("runs") / "sweeps" / path.stem),
        variants={str(k): dotted(v) for k, v in variants.items()},
    )
    keys = list(sweep.grid)
    for variant, extra in (sweep.variants or {None: {}}).items():
        for combo in itertools.product(*sweep.grid.values()):
            values = dict(zip(keys, combo))
            named = values if variant is None else {"variant": variant, **values}
            sweep.runs.append(RunSpec(run_name(named), named, {**extra, **values}))
    names = [r.name for r in sweep.runs]
    clash = next((n for n in names if names.count(n) > 1), None)
    if clash:
        raise ConfigError(f"{path}: two runs would share the directory {clash!r}; make the grid values distinct")
    return sweep


def _resolve_base(path: Path, base: Any) -> Path | None:
    if base is None:
        return None
    if not isinstance(base, str):
        raise ConfigError(f"{path}: base must be a config file path, got {base!r}")
    for candidate in (path.parent / base, Path(base)):
        if candidate.is_file():
            return candidate.resolve()
    raise ConfigError(f"{path}: base config {base!r} not found next to the sweep file or in {Path.cwd()}")
