"""Finding, loading and isolating plugins (built-in and third-party alike).

Built-ins are entry points of the ``diffkit`` distribution in the ``diffkit``
group, loaded by the same code as any installed package's. Set
``DIFFKIT_DISABLE_PLUGIN_AUTOLOAD=1`` to load only diffkit's own entry points;
``-p MODULE`` adds a module for one run; ``-p no:NAME`` blocks a plugin by its
entry-point or distribution name (``-``, ``_`` and ``.`` are equivalent, case is
ignored). A plugin that fails to import or register, declares an incompatible
``DIFFKIT_PLUGIN_API``, or implements a hook that does not exist is recorded in
``Plugins.failed`` with its distribution and the error; the others keep working.
"""

from __future__ import annotations

import importlib
import importlib.metadata as md
import os
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import pluggy

from diffkit import hookspecs
from diffkit.errors import PluginError, closest
from diffkit.hook_calls import Hooks
from diffkit.plugin_checks import PLUGIN_API_VERSION, check_api_version, unknown_hooks, wrappers  # noqa: F401 - re-exported
from diffkit.registry import Origin, Registry

ENTRY_POINT_GROUP = "diffkit"
AUTOLOAD_ENV = "DIFFKIT_DISABLE_PLUGIN_AUTOLOAD"
CORE_DIST = "diffkit"


@dataclass
class PluginInfo:
    """One loaded (or failed) plugin, as `diffkit plugins` shows it."""

    name: str
    dist: str = ""
    version: str = ""
    source: str = ""  # "entry point", "-p" or "config"
    error: str = ""
    blocked_by: str = ""  # the `-p no:NAME` that blocked it

    @property
    def origin(self) -> Origin:
        return Origin(self.name, self.dist, self.version)

    def describe(self) -> str:
        return f"plugin {self.name!r}" + (f" from {self.dist} {self.version}" if self.dist else "")


@dataclass
class Plugins:
    """The plugin manager of one diffkit invocation and the registry it filled."""

    pm: pluggy.PluginManager
    registry: Registry
    loaded: list[PluginInfo] = field(default_factory=list)
    failed: list[PluginInfo] = field(default_factory=list)
    blocked: list[PluginInfo] = field(default_factory=list)
    #: ``-p no:NAME`` values that matched no plugin, each with a hint.
    unmatched_blocks: list[str] = field(default_factory=list)
    _entry_points: dict[str, md.EntryPoint] = field(default_factory=dict)
    _blocked_registry: Registry | None = None

    def hooks(self, on_error: Mapping[str, str] | None = None) -> Hooks:
        """New lifecycle-hook callers for one run, plugin by plugin (a failure names its
        plugin); ``run.on_hook_error`` {plugin: "warn"} switches a failing plugin off instead."""
        return Hooks(self.pm, self.loaded, on_error)

    def blocked_provider(self, kind: str, name: str) -> str:
        """Why component `name` is missing because of a ``-p no:`` option, or "".

        The blocked plugins are imported only now, when a config asks for a
        component nobody loaded, into a registry of their own."""
        if not self.blocked:
            return ""
        if self._blocked_registry is None:
            self._blocked_registry = Registry()
            for info in self.blocked:
                _register_quietly(self._blocked_registry, info, self._entry_points.get(info.name))
        entry = next((e for e in self._blocked_registry.entries(kind) if e.name == name), None)
        if entry is None:
            return ""
        info = next(i for i in self.blocked if i.name == entry.origin.plugin)
        return f"{kind} {name!r} is provided by {info.describe()}, blocked with -p {info.blocked_by}"

    def failure_hint(self) -> str:
        """A sentence naming failed plugins, for unknown-name errors."""
        if not self.failed:
            return ""
        names = ", ".join(f"{p.name} ({p.dist or p.source})" for p in self.failed)
        return f"note: plugins that failed to load: {names}"


def autoload_enabled() -> bool:
    return not os.environ.get(AUTOLOAD_ENV)


def load_plugins(specs: Iterable[str] = (), *, autoload: bool | None = None) -> Plugins:
    """Create the plugin manager, load plugins and run their registration.

    `specs` are ``-p`` values: module names to load, or ``no:NAME`` to block.
    Entry-point plugins that fail are recorded in ``failed`` and the rest load;
    a ``-p`` module that fails raises `PluginError`, since it was asked for.
    """
    specs = list(specs)
    blocked = {canonical_name(s[3:]): s for s in specs if s.startswith("no:")}
    matched: set[str] = set()
    modules = [s for s in specs if not s.startswith("no:")]
    autoload = autoload_enabled() if autoload is None else autoload

    pm = pluggy.PluginManager("diffkit")
    pm.add_hookspecs(hookspecs)
    plugins = Plugins(pm, Registry())

    known = set(modules)
    for ep, dist in _entry_points():
        known |= {ep.name, dist.metadata["Name"]}
        if dist.metadata["Name"] != CORE_DIST and not autoload:
            continue
        info = PluginInfo(ep.name, dist.metadata["Name"], dist.version, "entry point")
        by = [k for k in (canonical_name(ep.name), canonical_name(info.dist)) if k in blocked]
        if by:
            matched.update(by)
            info.blocked_by = blocked[by[0]]
            plugins.blocked.append(info)
            plugins._entry_points[info.name] = ep
            continue
        try:
            module = ep.load()
        except (Exception, SystemExit) as e:  # noqa: BLE001 - any import error is the plugin's, not ours
            _fail(plugins, info, f"import failed: {type(e).__name__}: {e}")
            continue
        _register(plugins, module, info)

    for name in modules:
        if canonical_name(name) in blocked:
            matched.add(canonical_name(name))
            plugins.blocked.append(PluginInfo(name, source="-p", blocked_by=blocked[canonical_name(name)]))
            continue
        info = PluginInfo(name, source="-p")
        try:
            module = importlib.import_module(name)
        except (Exception, SystemExit) as e:
            raise PluginError(f"cannot load plugin module {name!r} (-p): {type(e).__name__}: {e}") from e
        if plugins.pm.is_registered(module):
            continue  # already loaded through its entry point
        _register(plugins, module, info)
        if info.error:
            raise PluginError(f"{info.describe()}: {info.error}")

    for info in list(plugins.loaded):
        _run_registration(plugins, info)
    plugins.registry.unknown_hint = plugins.failure_hint()
    plugins.registry.explain_missing = plugins.blocked_provider
    for key, spec in blocked.items():
        if key not in matched:
            hint = closest(spec[3:], sorted(known)) or f"plugins: {', '.join(sorted(known))}"
            plugins.unmatched_blocks.append(f"-p {spec} matches no plugin; {hint}")
    return plugins


def add_plugin(plugins: Plugins, plugin: object, name: str | None = None) -> PluginInfo:
    """Register `plugin` (an object or module with ``diffkit_*`` hook functions, like
    ``pytest.main(plugins=[...])`` takes) and run its registration; raise PluginError
    naming it when it cannot be."""
    info = PluginInfo(name or f"{type(plugin).__name__}-{id(plugin):x}", source="object")
    _register(plugins, plugin, info)  # type: ignore[arg-type]  # an object works like a module
    if not info.error:
        _run_registration(plugins, info)
    if info.error:
        raise PluginError(f"{info.describe()}: {info.error}")
    return info


def _register_quietly(registry: Registry, info: PluginInfo, ep: md.EntryPoint | None) -> None:
    """Run a blocked plugin's registration into `registry`, ignoring any failure."""
    try:
        module = ep.load() if ep is not None else importlib.import_module(info.name)
        register = getattr(module, "diffkit_register_components", None)
        if register is not None:
            with registry.registering_as(info.origin):
                register(registry=registry)
    except (Exception, SystemExit):  # noqa: BLE001 - only a hint for an error message
        pass


def canonical_name(name: str) -> str:
    """``Diffkit_Example`` and ``diffkit-example`` -> ``diffkit-example`` (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


_scanned: dict[tuple[tuple[str, float], ...], list[tuple[md.EntryPoint, md.Distribution]]] = {}


def _entry_points() -> list[tuple[md.EntryPoint, md.Distribution]]:
    """Entry points of the group, one per (distribution, name), core first.

    Scanning every installed distribution takes ~0.5 s, so the result is kept for as long
    as no folder on ``sys.path`` changes (installing or removing a package changes its
    folder's mtime): the runs of an in-process sweep scan once."""
    key = tuple((p, _mtime(p)) for p in sys.path)
    if key not in _scanned:
        _scanned.clear()
        _scanned[key] = _scan_entry_points()
    return _scanned[key]


def _mtime(path: str) -> float:
    try:
        return os.stat(path or ".").st_mtime
    except OSError:
        return -1.0


def _scan_entry_points() -> list[tuple[md.EntryPoint, md.Distribution]]:
    seen: set[tuple[str, str]] = set()
    found: list[tuple[md.EntryPoint, md.Distribution]] = []
    for dist in md.distributions():
        for ep in dist.entry_points:
            key = (dist.metadata["Name"], ep.name)
            if ep.group == ENTRY_POINT_GROUP and key not in seen:
                seen.add(key)
                found.append((ep, dist))
    found.sort(key=lambda pair: (pair[1].metadata["Name"] != CORE_DIST, pair[1].metadata["Name"], pair[0].name))
    return found


def _fail(plugins: Plugins, info: PluginInfo, error: str) -> None:
    info.error = error
    plugins.failed.append(info)
    if info in plugins.loaded:
        plugins.loaded.remove(info)


def _register(plugins: Plugins, module: ModuleType, info: PluginInfo) -> None:
    problem = check_api_version(module) or _name_clash(plugins, module, info)
    if problem:
        _fail(plugins, info, problem)
        return
    try:
        plugins.pm.register(module, name=info.name)
    except Exception as e:  # pluggy validation: wrong hook signatures
        _fail(plugins, info, f"invalid hooks: {e}")
        return
    problem = unknown_hooks(plugins.pm, module) or wrappers(plugins.pm, module)
    if problem:
        plugins.pm.unregister(module)
        _fail(plugins, info, problem)
        return
    plugins.loaded.append(info)


def _name_clash(plugins: Plugins, module: ModuleType, info: PluginInfo) -> str:
    """Why `info` cannot take its plugin name or module, naming the plugin that has it; or ""."""
    taken = plugins.pm.get_name(module) if plugins.pm.is_registered(module) else None
    name = info.name if plugins.pm.has_plugin(info.name) else taken
    if name is None:
        return ""
    other = next((p for p in plugins.loaded if p.name == name), PluginInfo(name))
    what = f"name {info.name!r}" if name == info.name else f"module {getattr(module, '__name__', module)!r}"
    return f"its {what} is already used by {other.describe()}; block one with `-p no:NAME`"


def _run_registration(plugins: Plugins, info: PluginInfo) -> None:
    """Call one plugin's `diffkit_register_components`; on error undo what it added."""
    impls = [
        impl for impl in plugins.pm.hook.diffkit_register_components.get_hookimpls() if impl.plugin_name == info.name
    ]
    for impl in impls:
        try:
            with plugins.registry.registering_as(info.origin):
                impl.function(registry=plugins.registry)
        except Exception as e:  # noqa: BLE001 - isolate the plugin, report it
            plugins.registry.remove_origin(info.name)
            plugins.pm.unregister(name=info.name)
            _fail(plugins, info, f"registration failed: {type(e).__name__}: {e}")
            if info.source == "-p":
                raise PluginError(f"{info.describe()}: {info.error}") from e
            return


def warn_failures(plugins: Plugins, stream: Any = None) -> None:
    """Print one line per failed plugin to stderr."""
    stream = stream or sys.stderr
    for text in plugins.unmatched_blocks:
        print(f"diffkit: warning: {text}", file=stream)
    for info in plugins.failed:
        print(f"diffkit: warning: {info.describe()} was not loaded: {info.error}", file=stream)
    for entry in plugins.registry.conflicts():
        who = " and ".join(str(o) for o in [entry.origin, *entry.conflicts])
        print(f"diffkit: warning: {entry.kind} {entry.name!r} is registered by both {who}", file=stream)


def plugin_specs(cli: Sequence[str], config_plugins: Sequence[str]) -> list[str]:
    """`-p` values from the command line and ``run.plugins`` from the config, deduplicated."""
    return list(dict.fromkeys([*config_plugins, *cli]))
