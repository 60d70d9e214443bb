"""Calling lifecycle hooks one plugin at a time, so that a failure names its plugin.

``Hooks(plugins.pm, plugins.loaded).diffkit_log(run=..., step=..., metrics=...)`` calls every
implementation in pluggy's order (last registered first, ``tryfirst``/``trylast``
respected), passing each only the arguments it declares. An exception inside a
plugin becomes a `PluginHookError` naming the plugin, its distribution and
version, the hook and the error; the plugin is not called again in this process.
With ``run.on_hook_error: {PLUGIN: warn}`` the failure is a one-line warning
instead and the plugin is switched off for the rest of the run.

Checkpoint state is versioned per plugin: after ``diffkit_checkpoint_save`` the
version each saving plugin declares as ``DIFFKIT_STATE_VERSION`` (default 1) is
kept under the reserved key ``_versions``; ``diffkit_checkpoint_load`` passes each
plugin the version its state was saved with as ``version``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol, TextIO

import pluggy

from diffkit.errors import ConfigError, DiffkitError, PluginHookError, closest

POLICIES = ("raise", "warn")
#: the reserved key of the checkpoint's ``plugins`` dict: {plugin name: state version}.
VERSIONS_KEY = "_versions"
#: a plugin module's attribute: the version of the state its checkpoint hook writes.
STATE_VERSION_ATTR = "DIFFKIT_STATE_VERSION"


class Described(Protocol):
    """A loaded plugin as error lines name it (``plugin_manager.PluginInfo``)."""

    name: str

    def describe(self) -> str: ...


class Hooks:
    """``hooks.diffkit_NAME(**kwargs)`` calls hook NAME plugin by plugin; returns the results.

    pm: the plugin manager; loaded: the loaded plugins, for the names in error lines;
    on_error: ``run.on_hook_error``. One object per run: a plugin that failed stays off."""

    def __init__(
        self,
        pm: pluggy.PluginManager,
        loaded: Sequence[Described] = (),
        on_error: Mapping[str, str] | None = None,
        stream: TextIO | None = None,
    ) -> None:
        self._pm = pm
        self._loaded = list(loaded)
        self._on_error = dict(on_error or {})
        self._stream = stream
        self.disabled: set[str] = set()
        for name, policy in self._on_error.items():
            if policy not in POLICIES:
                raise ConfigError(f"run.on_hook_error.{name}={policy!r} is not allowed; use {' or '.join(POLICIES)}")
            if not pm.has_plugin(name):
                known = [p.name for p in self._loaded]
                hint = closest(name, known) or f"loaded plugins: {', '.join(known)}"
                self._warn(f"run.on_hook_error names {name!r}, which is not a loaded plugin; {hint}")

    def __getattr__(self, hook: str) -> Callable[..., list[Any]]:
        if not hook.startswith("diffkit_"):
            raise AttributeError(hook)
        return lambda **kwargs: self.call(hook, kwargs)

    def call(
        self, hook: str, kwargs: Mapping[str, Any], per_plugin: Mapping[str, Mapping[str, Any]] | None = None
    ) -> list[Any]:
        """Call `hook`'s implementations in pluggy's order; `per_plugin` adds arguments for one plugin."""
        results = []
        for impl in reversed(getattr(self._pm.hook, hook).get_hookimpls()):
            if impl.plugin_name in self.disabled or impl.hookwrapper or impl.wrapper:
                continue  # wrappers are refused when a plugin registers
            given = {**kwargs, **(per_plugin or {}).get(impl.plugin_name, {})}
            try:
                result = impl.function(**{a: given[a] for a in impl.argnames if a in given})
            except DiffkitError:
                raise  # a user-facing error the plugin meant to raise (e.g. a refused config)
            except Exception as e:  # noqa: BLE001 - the plugin's failure, reported with its name
                self._failed(impl.plugin_name, hook, e)
                continue
            if result is not None:
                results.append(result)
        return results

    # -- checkpoint state with a version per plugin ----------------------------
    def diffkit_checkpoint_save(self, **kwargs: Any) -> list[Any]:
        state = kwargs["state"]
        results = self.call("diffkit_checkpoint_save", kwargs)
        state[VERSIONS_KEY] = {
            impl.plugin_name: int(getattr(impl.plugin, STATE_VERSION_ATTR, 1))
            for impl in self._pm.hook.diffkit_checkpoint_save.get_hookimpls()
            if impl.plugin_name not in self.disabled
        }
        return results

    def diffkit_checkpoint_load(self, **kwargs: Any) -> list[Any]:
        state = dict(kwargs["state"])
        versions = state.pop(VERSIONS_KEY, {})
        per_plugin = {name: {"version": v} for name, v in versions.items()}
        return self.call("diffkit_checkpoint_load", {**kwargs, "state": state, "version": None}, per_plugin)

    # -- failures ----------------------------------------------------------
    def _failed(self, plugin: str, hook: str, error: Exception) -> None:
        self.disabled.add(plugin)
        info = next((p for p in self._loaded if p.name == plugin), None)
        who = info.describe() if info is not None else f"plugin {plugin!r}"
        what = f"{who} failed in {hook}: {type(error).__name__}: {error}"
        if self._on_error.get(plugin) == "warn":
            self._warn(f"{what}; it is switched off for the rest of this run (run.on_hook_error.{plugin}=warn)")
            return
        raise PluginHookError(what, plugin, hook) from error

    def _warn(self, text: str) -> None:
        print(f"diffkit: warning: {text}", file=self._stream or sys.stderr)
