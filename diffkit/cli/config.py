"""``diffkit config [CONFIG] [key=value ...]``: check and print the resolved config.

Every component is built once (``Config.check``), so an unknown name, key or a bad
value fails here with the same one-line error and exit code 2 as ``diffkit train``.
"""

from __future__ import annotations

import argparse

import diffkit.api as api
from diffkit.cli.common import add_plugin_option, split_config_and_overrides
from diffkit.runner.checks import report


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("config", help="check a config (every component is built) and print it resolved")
    p.add_argument("items", nargs="*", metavar="[CONFIG] [key=value]")
    add_plugin_option(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    config, overrides = split_config_and_overrides(args.items)
    composed = api.compose(config, overrides, plugins=args.plugins)
    report(composed.check())
    print(composed.to_yaml(), end="")
    return 0
