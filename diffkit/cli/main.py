"""Entry point of the ``diffkit`` command."""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Sequence

from diffkit import __version__
from diffkit.cli import compare, config, new_plugin, plugins, sample, sweep, train
from diffkit.cli import eval as eval_cmd
from diffkit.cli.common import Parser
from diffkit.errors import DiffkitError, NonFiniteError, PluginHookError

#: every command module has ``register(subparsers)``; add new commands here.
COMMANDS = [train, sample, plugins, config, new_plugin, sweep, compare, eval_cmd]
TRACEBACK_ENV = "DIFFKIT_TRACEBACK"


def build_parser() -> Parser:
    parser = Parser(prog="diffkit", description="Train, sample and compare diffusion models built from plugins.")
    parser.add_argument("--version", action="version", version=f"diffkit {__version__}")
    parser.add_argument("--traceback", action="store_true", help=f"print the full traceback of an error (or set {TRACEBACK_ENV}=1)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    sub.required = True
    for command in COMMANDS:
        command.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    show_traceback = "--traceback" in argv or bool(os.environ.get(TRACEBACK_ENV))
    args, extra = parser.parse_known_args([a for a in argv if a != "--traceback"])
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
    except DiffkitError as e:
        if show_traceback:
            traceback.print_exception(e)
        hint = f" (full traceback: --traceback or {TRACEBACK_ENV}=1)" if isinstance(e, PluginHookError) and not show_traceback else ""
        print(f"diffkit: error: {e}{hint}", file=sys.stderr)
        return 1 if isinstance(e, (NonFiniteError, PluginHookError)) else 2
