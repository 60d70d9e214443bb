"""Entry point of the ``diffkit`` command."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from diffkit import __version__
from diffkit.cli import config, plugins, sample, train
from diffkit.cli import new_plugin
from diffkit.cli.common import Parser
from diffkit.errors import DiffkitError, NonFiniteError

#: every command module has ``register(subparsers)``; add new commands here.
COMMANDS = [train, sample, plugins, config, new_plugin]


def build_parser() -> Parser:
    parser = Parser(prog="diffkit", description="Train, sample and compare diffusion models built from plugins.")
    parser.add_argument("--version", action="version", version=f"diffkit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    sub.required = True
    for command in COMMANDS:
        command.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except NonFiniteError as e:
        print(f"diffkit: error: {e}", file=sys.stderr)
        return 1
    except DiffkitError as e:
        print(f"diffkit: error: {e}", file=sys.stderr)
        return 2
