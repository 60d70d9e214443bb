"""Entry point of the ``diffkit`` command."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from diffkit import __version__
from diffkit.cli import compare, config, new_plugin, plugins, sample, sweep, train
from diffkit.cli import eval as eval_cmd
from diffkit.cli.common import Parser
from diffkit.errors import DiffkitError, NonFiniteError

#: every command module has ``register(subparsers)``; add new commands here.
COMMANDS = [train, sample, plugins, config, new_plugin, sweep, compare, eval_cmd]


def build_parser() -> Parser:
    parser = Parser(prog="diffkit", description="Train, sample and compare diffusion models built from plugins.")
    parser.add_argument("--version", action="version", version=f"diffkit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    sub.required = True
    for command in COMMANDS:
        command.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    # argparse fills a trailing positional list only before the first option:
    # `sample RUN --steps 5 sampler.eta=0.5` leaves the override here.
    target = next((k for k in ("overrides", "items") if isinstance(getattr(args, k, None), list)), None)
    stray = [a for a in extra if target is None or a.startswith("-") or "=" not in a]
    if stray:
        parser.error(f"unrecognized arguments: {' '.join(stray)}")
    if extra:
        setattr(args, target, [*getattr(args, target), *extra])
    try:
        return int(args.func(args) or 0)
    except NonFiniteError as e:
        print(f"diffkit: error: {e}", file=sys.stderr)
        return 1
    except DiffkitError as e:
        print(f"diffkit: error: {e}", file=sys.stderr)
        return 2
