"""``diffkit plugins [--kind KIND]``: every plugin, its distribution and its components."""

from __future__ import annotations

import argparse

from diffkit.cli.common import add_plugin_option
from diffkit.errors import ConfigError
from diffkit.interfaces import KINDS
from diffkit.plugin_manager import load_plugins
from diffkit.registry import accepted_params


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("plugins", help="list plugins and the components they register")
    p.add_argument("--kind", help=f"show only one kind: {', '.join(KINDS)}")
    p.add_argument("-v", "--verbose", action="store_true", help="show each component's parameters")
    add_plugin_option(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.kind and args.kind not in KINDS:
        raise ConfigError(f"--kind {args.kind!r} is not a kind; kinds: {', '.join(KINDS)}")
    plugins = load_plugins(args.plugins)
    registry = plugins.registry
    for info in plugins.loaded:
        mine = [e for e in registry.entries(args.kind) if e.origin.plugin == info.name]
        if args.kind and not mine:
            continue
        where = f"{info.dist} {info.version}" if info.dist else f"({info.source})"
        print(f"{info.name}  [{where}]")
        for e in mine:
            print(f"    {e.kind:<15} {e.name:<18} {e.cls.__module__}.{e.cls.__qualname__}")
            if args.verbose:
                injected = getattr(KINDS[e.kind], "injected", ())
                for p in accepted_params(e.cls).values():
                    if p.name not in injected:
                        print(f"        {p.name} = {p.default!r}")
    if not args.kind:
        print()
        for kind in KINDS:
            print(f"{kind}: {', '.join(registry.names(kind)) or '(none)'}")
    for info in plugins.failed:
        print(f"FAILED {info.name}  [{info.dist} {info.version}]: {info.error}".replace(" []", ""))
    for entry in registry.conflicts():
        who = " and ".join(str(o) for o in [entry.origin, *entry.conflicts])
        print(f"CONFLICT {entry.kind} {entry.name!r}: registered by {who}")
    return 0
