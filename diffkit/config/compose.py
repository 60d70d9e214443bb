"""Compose a run's config: schema defaults <- YAML file <- ``key=value`` overrides.

Component sections merge "by name". A file (or a saved run config) that names
another component replaces that section. A ``key=value`` override that names another
component keeps the earlier parameters the new one accepts and drops (and reports)
the rest, so ``loss.name=l2`` or ``scheduler.name=cosine`` just works.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from diffkit.config import safe_yaml
from diffkit.config.flat import to_dict
from diffkit.config.length import resolve_length
from diffkit.config.schema import COMPONENT_SECTIONS, DATA_RUNNER_KEYS, RUNNER_KEYS, DiffkitConfig
from diffkit.errors import ConfigError, closest
from diffkit.registry import Registry, accepted_params


@dataclass
class Composed:
    """The resolved config, where each key came from, and notes for the user."""

    cfg: DictConfig
    sources: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def source(self, key: str) -> str:
        """The file or "command line" that set `key` (or a parent of it)."""
        while key:
            if key in self.sources:
                return self.sources[key]
            key = key.rpartition(".")[0]
        return "defaults"


def read_yaml(path: str | Path) -> dict[str, Any]:
    """A YAML mapping from `path`; missing or malformed files raise ConfigError."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    try:
        data = safe_yaml.load(path.read_text())
    except safe_yaml.TooLargeError as e:
        raise ConfigError(f"{path}: refused: the YAML {e}") from None
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        raise ConfigError(f"{where}: malformed YAML: {e.problem}") from None
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: malformed YAML: {e}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of keys, not {type(data).__name__}")
    return data


def parse_overrides(overrides: Sequence[str]) -> dict[str, Any]:
    """``["a.b=1", "c=x"]`` -> nested dict, values parsed as YAML."""
    out: dict[str, Any] = {}
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep or not key or any(not part for part in key.split(".")):
            raise ConfigError(f"override {item!r} is not of the form key=value (e.g. train.steps=500)")
        try:
            parsed = safe_yaml.load(value) if value else ""
        except safe_yaml.TooLargeError as e:
            raise ConfigError(f"override {key}: refused: the YAML {e}") from None
        except yaml.YAMLError:
            parsed = value
        if isinstance(parsed, str) and parsed != value and any(c in value for c in "\n\r"):
            raise ConfigError(
                f"override {key}: the value holds a line break, which YAML would fold into "
                f"{parsed!r}; give a one-line value"
            )
        node = out
        *parents, last = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"override {item!r} conflicts with another override of {part!r}")
        node[last] = parsed
    return out


def compose(
    path: str | Path | None,
    overrides: Sequence[str] = (),
    registry: Registry | None = None,
    base: Mapping[str, Any] | None = None,
) -> Composed:
    """Defaults <- `base` (e.g. a saved run config) <- file at `path` <- `overrides`."""
    layers: list[tuple[str, dict[str, Any]]] = []
    if base is not None:
        layers.append(("saved config", dict(base)))
    if path is not None:
        layers.append((str(path), read_yaml(path)))
    if overrides:
        layers.append(("command line", parse_overrides(overrides)))

    schema = OmegaConf.structured(DiffkitConfig)
    OmegaConf.set_struct(schema, True)
    OmegaConf.set_struct(schema.run.on_hook_error, False)  # keys are plugin names
    result = Composed(schema)
    defaults = to_dict(schema)
    components = {s: dict(defaults[s]) for s in COMPONENT_SECTIONS}

    for source, layer in layers:
        plain = {k: v for k, v in layer.items() if k not in COMPONENT_SECTIONS}
        _record_sources(result.sources, plain, source)
        result.cfg = _merge(result.cfg, plain, source)
        for section in COMPONENT_SECTIONS:
            if section not in layer or layer[section] is None:
                continue
            node = layer[section]
            if not isinstance(node, dict):
                raise ConfigError(f"{section} in {source} must be a mapping like {{name: ...}}, got {node!r}")
            if "name" in node and not isinstance(node["name"], str):
                raise ConfigError(
                    f"{section}.name={node['name']!r} must be a string naming a registered "
                    f"{COMPONENT_SECTIONS[section]} ({source})"
                )
            _record_sources(result.sources, {section: node}, source)
            components[section] = _merge_component(section, components[section], node, registry, result, source)

    for section, node in components.items():
        OmegaConf.set_struct(result.cfg, False)
        result.cfg[section] = node
        OmegaConf.set_struct(result.cfg, True)
    _check_data_keys(result)
    resolve_length(result, [source for source, _ in layers])
    return result


def _merge(cfg: DictConfig, layer: dict[str, Any], source: str) -> DictConfig:
    for key, value in layer.items():
        if key in cfg and isinstance(cfg[key], DictConfig) and not isinstance(value, Mapping):
            example = next(iter(cfg[key]), "key")
            raise ConfigError(
                f"{key}={value!r} is not allowed; {key} is a section: set its keys, e.g. {key}.{example}=... ({source})"
            )
    try:
        return OmegaConf.merge(cfg, layer)  # type: ignore[return-value]
    except OmegaConfBaseException as e:
        key = getattr(e, "full_key", "") or ""
        msg = str(getattr(e, "msg", None) or e).split("\n")[0]
        if "not in" in msg and key:
            valid = _all_keys(OmegaConf.to_container(cfg))
            hint = closest(key, valid)
            raise ConfigError(f"{source}: unknown key {key!r}" + (f"; {hint}" if hint else "")) from None
        expected = _expected(key) if key else ""
        if expected and hasattr(e, "value"):
            raise ConfigError(f"{key}={e.value!r} is not allowed; use {expected} ({source})") from None
        raise ConfigError(f"{source}: {key + ': ' if key else ''}{msg}") from None


_TYPE_WORDS = {int: "an integer", float: "a number", str: "a string", bool: "true or false"}


def _expected(key: str) -> str:
    """What the schema allows at `key`, in words ("an integer", "a list of numbers", ...)."""
    typ: Any = DiffkitConfig
    for part in key.split("."):
        hints = typing.get_type_hints(typ) if dataclasses.is_dataclass(typ) else {}
        if part not in hints:
            return ""
        typ = hints[part]
    args = [a for a in typing.get_args(typ) if a is not type(None)]
    if typing.get_origin(typ) in (typing.Union, types.UnionType):
        inner = _TYPE_WORDS.get(args[0], "") if len(args) == 1 else ""
        return f"null or {inner}" if inner else ""
    if typing.get_origin(typ) is list:
        inner = _TYPE_WORDS.get(args[0], "") if args else ""
        return f"a list of {inner.split(' ', 1)[-1]}s" if inner else "a list"
    return _TYPE_WORDS.get(typ, "")


def _merge_component(
    section: str,
    old: dict[str, Any],
    new: dict[str, Any],
    registry: Registry | None,
    result: Composed,
    source: str,
) -> dict[str, Any]:
    """Same name: merge. A file naming another component replaces the node (keeping
    the runner's data keys); an override naming one keeps what the new one accepts."""
    new_name = new.get("name", old.get("name"))
    if new_name == old.get("name"):
        return {**old, **new}
    if source != "command line":
        runner_keys = {k: v for k, v in old.items() if k in RUNNER_KEYS.get(section, {})}
        return {**runner_keys, **new}
    if registry is None:
        return {**old, **new}
    kept = {"name": new_name}
    accepted = _accepted(registry, COMPONENT_SECTIONS[section], str(new_name))
    dropped = []
    for key, value in old.items():
        if key == "name":
            continue
        if accepted is None or key in accepted or key in RUNNER_KEYS.get(section, {}):
            kept[key] = value
        else:
            dropped.append(key)
    if dropped:
        result.notes.append(
            f"{section}: {old.get('name')} -> {new_name}; dropped {', '.join(dropped)} (not accepted by {new_name!r})"
        )
    return {**kept, **new}


def _accepted(registry: Registry, kind: str, name: str) -> set[str] | None:
    if name not in registry.names(kind):
        return None
    return set(accepted_params(registry.get(kind, name).cls))


def _check_data_keys(result: Composed) -> None:
    data = result.cfg.data
    for key, typ in DATA_RUNNER_KEYS.items():
        if key not in data:
            raise ConfigError(f"data.{key} is missing ({result.source('data')})")
        value = data[key]
        if not isinstance(value, typ) or isinstance(value, bool):
            raise ConfigError(f"data.{key}={value!r} must be {typ.__name__} ({result.source('data.' + key)})")


def _record_sources(sources: dict[str, str], layer: Mapping[str, Any], source: str, prefix: str = "") -> None:
    for key, value in layer.items():
        full = f"{prefix}{key}"
        sources[full] = source
        if isinstance(value, Mapping):
            _record_sources(sources, value, source, full + ".")


def _all_keys(container: Any, prefix: str = "") -> list[str]:
    keys = []
    if isinstance(container, dict):
        for key, value in container.items():
            keys.append(prefix + str(key))
            keys.extend(_all_keys(value, f"{prefix}{key}."))
    return keys
