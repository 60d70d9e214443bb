"""Components by kind and name, and the builder that turns config nodes into objects."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from diffkit.errors import ConfigError, PluginValidationError, UnknownComponentError
from diffkit.interfaces import KINDS
from diffkit.param_types import check_params


@dataclass(frozen=True)
class Origin:
    """Who registered a component: the plugin and the distribution that ships it."""

    plugin: str
    dist: str = ""
    version: str = ""

    def __str__(self) -> str:
        if self.dist:
            return f"plugin {self.plugin!r} ({self.dist} {self.version})".rstrip()
        return f"plugin {self.plugin!r}"


@dataclass
class Entry:
    """One registered component: its kind, name, class, who registered it and who else tried."""

    kind: str
    name: str
    cls: type
    origin: Origin
    conflicts: list[Origin] = field(default_factory=list)


def accepted_params(cls: type) -> dict[str, inspect.Parameter]:
    """Parameters the constructor of `cls` accepts by keyword. Where it takes
    ``**kwargs``, the keyword-only parameters of the base constructors they are
    forwarded to count too (positional ones are the subclass's to fill)."""
    params: dict[str, inspect.Parameter] = {}
    forwarded = False
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        forwards = False
        for p in list(inspect.signature(init).parameters.values())[1:]:
            if p.kind is p.VAR_KEYWORD:
                forwards = True
            elif p.kind is p.KEYWORD_ONLY or (not forwarded and p.kind is not p.VAR_POSITIONAL):
                params.setdefault(p.name, p)
        if not forwards:
            break
        forwarded = True
    return params


def injected_params(base: type) -> tuple[str, ...]:
    """Constructor arguments the runner passes to components of kind `base`, never
    set in a config: ``injected`` (every constructor must accept them) and
    ``optional_injected`` (passed when the constructor accepts them)."""
    return (*getattr(base, "injected", ()), *getattr(base, "optional_injected", ()))


class Registry:
    """kind -> name -> `Entry`. Passed explicitly; there is no global one."""

    def __init__(self) -> None:
        self._entries: dict[str, dict[str, Entry]] = {kind: {} for kind in KINDS}
        self._origin = Origin("<direct>")
        #: appended to unknown-name errors (e.g. which plugins failed to load).
        self.unknown_hint = ""
        #: (kind, name) -> why it is missing (e.g. its plugin is blocked), or "".
        self.explain_missing: Callable[[str, str], str] = lambda kind, name: ""

    # -- registration ------------------------------------------------------
    @contextmanager
    def registering_as(self, origin: Origin) -> Iterator[None]:
        """Attribute every `add` inside the block to `origin`."""
        previous, self._origin = self._origin, origin
        try:
            yield
        finally:
            self._origin = previous

    def add(self, kind: str, name: str, cls: type) -> None:
        """Register `cls` as component `name` of `kind`; checked now, not at first use."""
        origin = self._origin
        if kind not in KINDS:
            raise PluginValidationError(
                f"{origin} registers {name!r} under unknown kind {kind!r}; kinds: {', '.join(KINDS)}"
            )
        base = KINDS[kind]
        if not (isinstance(cls, type) and issubclass(cls, base)):
            raise PluginValidationError(
                f"{origin} registers {kind} {name!r} as {cls!r}, which is not a subclass of "
                + getattr(base, "kind_label", f"diffkit.{base.__name__}")
            )
        if inspect.isabstract(cls):
            missing = ", ".join(sorted(getattr(cls, "__abstractmethods__", ())))
            raise PluginValidationError(
                f"{origin} registers {kind} {name!r} ({cls.__qualname__}) without implementing {missing}"
            )
        params = accepted_params(cls)
        for p in params.values():
            if p.default is p.empty and p.name not in getattr(base, "injected", ()):
                raise PluginValidationError(
                    f"{origin} registers {kind} {name!r}: constructor parameter {p.name!r} needs a "
                    "default, so that a config can leave it out"
                )
        missing_injected = [n for n in getattr(base, "injected", ()) if n not in params]
        if missing_injected:
            raise PluginValidationError(
                f"{origin} registers {kind} {name!r}: the constructor must accept "
                f"{', '.join(missing_injected)} (provided by the runner)"
            )
        existing = self._entries[kind].get(name)
        if existing is not None:
            if existing.origin == origin:
                raise PluginValidationError(f"{origin} registers {kind} {name!r} twice")
            existing.conflicts.append(origin)
            return
        self._entries[kind][name] = Entry(kind, name, cls, origin)

    def remove_origin(self, plugin: str) -> None:
        """Forget everything `plugin` registered (used when its registration fails)."""
        for entries in self._entries.values():
            for name in [n for n, e in entries.items() if e.origin.plugin == plugin]:
                entry = entries.pop(name)
                if entry.conflicts:
                    first, *rest = entry.conflicts
                    entries[name] = Entry(entry.kind, name, entry.cls, first, rest)
            for entry in entries.values():
                entry.conflicts = [o for o in entry.conflicts if o.plugin != plugin]

    # -- lookup ------------------------------------------------------------
    def names(self, kind: str) -> list[str]:
        return sorted(self._entries[kind])

    def entries(self, kind: str | None = None) -> list[Entry]:
        kinds = [kind] if kind else list(KINDS)
        return [self._entries[k][n] for k in kinds for n in sorted(self._entries[k])]

    def conflicts(self) -> list[Entry]:
        return [e for e in self.entries() if e.conflicts]

    def get(self, kind: str, name: str, hint: str = "") -> Entry:
        """The entry for `name`; an unknown name raises with the closest names."""
        if kind not in KINDS:
            raise ConfigError(f"unknown component kind {kind!r}; kinds: {', '.join(KINDS)}")
        entry = self._entries[kind].get(name)
        if entry is None:
            why = self.explain_missing(kind, name)
            if why:
                raise ConfigError(f"{why}; drop that option to use it")
            raise UnknownComponentError(kind, name, self._entries[kind], hint or self.unknown_hint)
        if entry.conflicts:
            who = " and ".join(str(o) for o in [entry.origin, *entry.conflicts])
            raise ConfigError(
                f"{kind} {name!r} is registered by both {who}; uninstall one or block it with `-p no:PLUGIN`"
            )
        return entry

    def build(self, kind: str, node: Mapping[str, Any], *, where: str = "", **injected: Any) -> Any:
        """Instantiate ``node = {name: ..., **params}`` as a component of `kind`.

        `injected` are runner-provided constructor arguments; the resolved
        ``{name, **params}`` (defaults included) is kept as ``obj.build_config``.
        """
        where = where or kind
        node = dict(node)
        if "name" not in node:
            raise ConfigError(f"{where}.name is missing; name a registered {kind}")
        if not isinstance(node["name"], str):
            raise ConfigError(f"{where}.name={node['name']!r} must be a string naming a registered {kind}")
        name = node.pop("name")
        entry = self.get(kind, name)
        params = accepted_params(entry.cls)
        settable = {k: p for k, p in params.items() if k not in injected}
        for key in node:
            if key not in settable:
                accepted = ", ".join(sorted(settable)) or "(none)"
                raise ConfigError(f"{where}.{key}: {kind} {name!r} has no parameter {key!r}; it accepts: {accepted}")
        check_params(where, entry.cls, node)
        try:
            obj = entry.cls(**node, **{k: v for k, v in injected.items() if k in params})
        except ConfigError:
            raise
        except (TypeError, ValueError) as e:
            raise ConfigError(f"{where}: {kind} {name!r} rejected its parameters: {e}") from e
        resolved = {k: p.default for k, p in settable.items() if p.default is not p.empty}
        resolved.update(node)
        try:
            obj.build_config = {"name": name, **resolved}
        except AttributeError:  # pragma: no cover - objects with __slots__
            pass
        return obj
