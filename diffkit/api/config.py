"""Composing a config, with the plugins it names loaded: ``diffkit.compose``."""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from diffkit.config import Composed, to_dict
from diffkit.config import compose as compose_layers
from diffkit.plugin_manager import Plugins, add_plugin, load_plugins, plugin_specs, warn_failures
from diffkit.runner.preflight import preflight


@dataclass
class Config:
    """A resolved config and the plugins it was composed with.

    ``config.cfg`` is the OmegaConf tree (``config.optim.lr`` reads it too); `stem` names
    new run directories (``runs/<time>-<stem>``); `notes` are what composition told the
    user (e.g. a component's parameters dropped when its name changed)."""

    cfg: DictConfig
    plugins: Plugins = field(repr=False)
    stem: str = "default"
    notes: list[str] = field(default_factory=list)
    composed: Composed | None = field(default=None, repr=False)
    #: the plugin modules asked for besides ``run.plugins`` (``-p``).
    extra_plugins: list[str] = field(default_factory=list)

    def __getattr__(self, key: str) -> Any:
        if key.startswith("_") or key in ("cfg", "plugins", "stem", "notes", "composed", "extra_plugins"):
            raise AttributeError(key)
        return getattr(self.cfg, key)

    def to_yaml(self) -> str:
        return OmegaConf.to_yaml(self.cfg, resolve=True)

    def to_dict(self) -> dict[str, Any]:
        return to_dict(self.cfg)

    def check(self) -> list[str]:
        """Build every component and run the pre-flight checks, as ``diffkit config`` and
        ``train`` do; raise ConfigError for a broken config, return the warning lines."""
        return preflight(self.composed or Composed(self.cfg), self.plugins)


#: what ``config`` may be: a YAML file, a mapping of keys, an earlier Config, or None (the defaults).
ConfigSource = str | Path | Mapping[str, Any] | Config | None


def compose(config: ConfigSource = None, overrides: Sequence[str] = (), *, plugins: Sequence[Any] = ()) -> Config:
    """Defaults <- `config` <- `overrides` (``"optim.lr=2e-3"``), checked against the
    components of the plugins it names (``run.plugins``) and of `plugins` (module names,
    ``no:NAME`` blocks one). Raises ConfigError naming the bad key and its file."""
    overrides = list(overrides)
    if isinstance(config, Config):
        base, path, stem = config.to_dict(), None, config.stem
        plugins = [*config.extra_plugins, *plugins]
    elif isinstance(config, Mapping):
        base, path, stem = dict(config), None, "run"
    else:
        base, path, stem = None, config, Path(config).stem if config is not None else "default"
    return compose_from(path, overrides, plugins, base=base, stem=stem)


def compose_from(
    path: str | Path | None,
    overrides: Sequence[str],
    plugins: Sequence[Any],
    base: Mapping[str, Any] | None = None,
    stem: str = "run",
    quiet: bool = False,
) -> Config:
    """Compose once without components to find ``run.plugins``, load those plugins, then
    compose with their registry (which checks every component's parameters)."""
    names = [p for p in plugins if isinstance(p, str)]
    first = compose_layers(path, overrides, base=base)
    loaded = load_plugins(plugin_specs(names, list(first.cfg.run.plugins)))
    for plugin in plugins:
        if not isinstance(plugin, str):
            add_plugin(loaded, plugin)
    warn_failures(loaded)
    composed = compose_layers(path, overrides, loaded.registry, base=base)
    if not quiet:
        for note in composed.notes:
            print(f"diffkit: note: {note}", file=sys.stderr)
    return Config(composed.cfg, loaded, stem, list(composed.notes), composed, list(plugins))
