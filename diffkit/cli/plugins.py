"""``diffkit plugins [--kind KIND]``: every plugin, its distribution and its components;
``diffkit plugins --api KIND``: the contract a component of KIND implements."""

from __future__ import annotations

import argparse
import inspect
import sys

from diffkit.cli.common import add_plugin_option
from diffkit.contract import contract
from diffkit.contract import hooks as hook_contract
from diffkit.errors import ConfigError
from diffkit.interfaces import KINDS
from diffkit.plugin_manager import PluginInfo, Plugins, load_plugins
from diffkit.registry import accepted_params, injected_params


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("plugins", help="list plugins and the components they register")
    p.add_argument("--kind", help=f"show only one kind: {', '.join(KINDS)}")
    p.add_argument(
        "--api",
        metavar="KIND",
        help="print the plugin contract of a kind (base class, methods), or of the lifecycle hooks: --api hooks",
    )
    p.add_argument("-v", "--verbose", action="store_true", help="show each component's parameters")
    add_plugin_option(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    for option, kind in (("--kind", args.kind), ("--api", args.api)):
        if kind and kind not in KINDS and not (option == "--api" and kind == "hooks"):
            raise ConfigError(
                f"{option} {kind!r} is not a kind; kinds: {', '.join(KINDS)}"
                + (" (or hooks)" if option == "--api" else "")
            )
    if args.api:
        print(hook_contract() if args.api == "hooks" else contract(args.api), end="")
        return 0
    plugins = load_plugins(args.plugins)
    for text in plugins.unmatched_blocks:
        print(f"diffkit: warning: {text}", file=sys.stderr)
    registry = plugins.registry
    heading = None
    for info in plugins.loaded:
        mine = [e for e in registry.entries(args.kind) if e.origin.plugin == info.name]
        hooks = [] if args.kind else _hooks(plugins, info)
        if args.kind and not mine:
            continue
        where = f"{info.dist} {info.version}" if info.dist else f"not installed ({info.source})"
        if where != heading:
            print(where)
            heading = where
        print(f"  {info.name}")
        for e in mine:
            print(f"    {e.kind:<15} {e.name:<22} {e.cls.__module__}.{e.cls.__qualname__}")
            if args.verbose:
                for line in _param_lines(e.cls, injected_params(KINDS[e.kind])):
                    print(f"        {line}")
        if hooks:
            print(f"    hooks: {', '.join(hooks)}")
    if not args.kind:
        print()
        for kind in KINDS:
            print(f"{kind}: {', '.join(registry.names(kind)) or '(none)'}")
    for info in plugins.blocked:
        where = f"{info.dist} {info.version}" if info.dist else info.source
        print(f"BLOCKED plugin {info.name!r} from {where}, not loaded: -p {info.blocked_by}")
    for info in plugins.failed:
        where = f"{info.dist} {info.version}" if info.dist else info.source
        print(f"FAILED plugin {info.name!r} from {where}, not loaded: {info.error}")
    for entry in registry.conflicts():
        if args.kind and entry.kind != args.kind:
            continue
        who = " and ".join(str(o) for o in [entry.origin, *entry.conflicts])
        print(
            f"CONFLICT {entry.kind} {entry.name!r} is registered by both {who}; naming it in a config "
            "is an error until one is uninstalled or blocked with -p no:NAME"
        )
    return 0


def _param_lines(cls: type, injected: tuple[str, ...]) -> list[str]:
    """``name: type = default`` for each config key of `cls` (runner-injected ones hidden)."""
    lines = []
    for p in accepted_params(cls).values():
        if p.name in injected:
            continue
        kind = p.annotation if isinstance(p.annotation, str) else inspect.formatannotation(p.annotation)
        annotation = "" if p.annotation is p.empty else f": {kind}"
        default = " (required)" if p.default is p.empty else f" = {p.default!r}"
        lines.append(f"{p.name}{annotation}{default}")
    return lines


def _hooks(plugins: Plugins, info: PluginInfo) -> list[str]:
    """The lifecycle hooks `info`'s plugin implements, without the ``diffkit_`` prefix."""
    module = plugins.pm.get_plugin(info.name)
    callers = (plugins.pm.get_hookcallers(module) if module is not None else None) or []
    return sorted(c.name.removeprefix("diffkit_") for c in callers if c.name != "diffkit_register_components")
