"""Validate every run of a sweep before any starts: compose its config and build each
component, so a typo in one grid value fails in seconds, not after the queue."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Sequence

from diffkit.config import compose
from diffkit.config.schema import COMPONENT_SECTIONS
from diffkit.errors import ConfigError, DiffkitError, UnknownComponentError
from diffkit.plugin_manager import Plugins, load_plugins, plugin_specs
from diffkit.runner.preflight import preflight
from diffkit.sweep.spec import RunSpec, Sweep

_SECTION = {kind: section for section, kind in COMPONENT_SECTIONS.items()}


def check_runs(sweep: Sweep, cli_plugins: Sequence[str]) -> None:
    """Raise ConfigError naming the first run whose config does not compose, validate or
    build (dataset, scheduler, time embedding, denoiser, loss, sampler, metrics)."""
    loaded: dict[tuple[str, ...], Plugins] = {}
    for run in sweep.runs:
        try:
            check_run(sweep, run, cli_plugins, loaded)
        except DiffkitError as e:
            raise ConfigError(f"sweep {sweep.path}: run {run.name}: {_with_key(e)}") from e


def check_run(sweep: Sweep, run: RunSpec, cli_plugins: Sequence[str], loaded: dict[tuple[str, ...], Plugins]) -> None:
    base = str(sweep.base) if sweep.base else None
    overrides = sweep.run_overrides(run)
    specs = tuple(plugin_specs(cli_plugins, list(compose(base, overrides).cfg.run.plugins)))
    if specs not in loaded:
        loaded[specs] = load_plugins(specs)
    registry = loaded[specs].registry
    with contextlib.redirect_stderr(io.StringIO()):  # notes on dropped parameters: the run prints them
        composed = compose(base, overrides, registry)
    preflight(composed, loaded[specs])


def _with_key(error: DiffkitError) -> str:
    """An unknown-name error prefixed with the config key that holds the name."""
    if isinstance(error, UnknownComponentError):
        key = (
            f"{_SECTION[error.kind]}.name"
            if error.kind in _SECTION
            else "eval.metrics"
            if error.kind == "metric"
            else ""
        )
        return f"{key}: {error}" if key else str(error)
    return str(error)
