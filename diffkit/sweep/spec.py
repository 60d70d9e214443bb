"""The sweep file: a base config, overrides for every run, and a grid of values.

    base: configs/default.yaml      # relative to the sweep file or the working dir
    overrides: {train.steps: 500}   # optional, applied to every run
    grid:                           # every combination is one run
      loss.name: [l1, l2]
      seed: [0, 1]
    dir: runs/sweeps/my_sweep       # optional; default runs/sweeps/<file stem>
    launcher: {name: local, jobs: 2} # optional; where the runs train (default: local)
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

KEYS = ("base", "overrides", "grid", "dir", "launcher")
_UNSAFE = re.compile(r"[^\w.,=+\-\[\]{}:]")


@dataclass
class RunSpec:
    """One run of a sweep: its directory name and its grid values."""

    name: str
    values: dict[str, Any]


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

    def run_overrides(self, run: RunSpec) -> list[str]:
        """``key=value`` arguments for `run`: the shared overrides, then its grid values."""
        return [f"{k}={format_value(v)}" for k, v in {**self.overrides, **run.values}.items()]


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
    for key, value in (("overrides", overrides), ("grid", grid)):
        if not isinstance(value, dict):
            raise ConfigError(f"{path}: {key} must be a mapping of config keys, got {value!r}")
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
        launcher=_launcher_node(path, data.get("launcher")),
    )
    keys = list(sweep.grid)
    for combo in itertools.product(*sweep.grid.values()):
        values = dict(zip(keys, combo))
        sweep.runs.append(RunSpec(run_name(values), values))
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


def _launcher_node(path: Path, value: Any) -> dict[str, Any]:
    """``launcher: NAME`` or ``launcher: {name: NAME, key: value, ...}`` -> a component node."""
    if value is None:
        return {}
    if isinstance(value, str):
        return {"name": value}
    if not isinstance(value, dict) or not isinstance(value.get("name", ""), str):
        raise ConfigError(f"{path}: launcher must be a name or {{name: ..., key: value}}, got {value!r}")
    return dict(value)
