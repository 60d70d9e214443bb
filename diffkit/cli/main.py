"""Entry point of the ``diffkit`` command."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import traceback
from collections.abc import Sequence

from diffkit.cli import compare, config, new_plugin, plugins, sample, sweep, train
from diffkit.cli import eval as eval_cmd
from diffkit.cli.common import Parser
from diffkit.errors import DiffkitError
from diffkit.failure import TRACEBACK_ENV, describe
from diffkit.runner import stop
from diffkit.version import __version__

#: every command module has ``register(subparsers)``; add new commands here.
COMMANDS = [train, sample, plugins, config, new_plugin, sweep, compare, eval_cmd]


def build_parser() -> Parser:
    parser = Parser(prog="diffkit", description="Train, sample and compare diffusion models built from plugins.")
    parser.add_argument("--version", action="version", version=f"diffkit {__version__}")
    parser.add_argument(
        "--traceback", action="store_true", help=f"print the full traceback of an error (or set {TRACEBACK_ENV}=1)"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    sub.required = True
    for command in COMMANDS:
        command.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    env_value = os.environ.get(TRACEBACK_ENV, "").strip().lower()
    show_traceback = "--traceback" in argv or env_value not in ("", "0", "false", "no", "off")
    args, extra = parser.parse_known_args([a for a in argv if a != "--traceback"])
    # argparse fills a trailing positional list only before the first option:
    # `sample RUN --steps 5 sampler.eta=0.5` leaves the override here.
    target = next((k for k in ("overrides", "items") if isinstance(getattr(args, k, None), list)), None)
    stray = [a for a in extra if target is None or a.startswith("-") or "=" not in a]
    if stray:
        parser.error(f"unrecognized arguments: {' '.join(stray)}")
    if extra and target is not None:
        setattr(args, target, [*getattr(args, target), *extra])
    return run_command(args, show_traceback)


def run_command(args: argparse.Namespace, show_traceback: bool = False) -> int:
    """Run the chosen command; every fault a user can meet ends in one line on stderr
    (``diffkit.failure``: 2 for usage and config errors, 1 for runtime faults, 130 for
    Ctrl-C, 143 for SIGTERM outside training, which saves and stops), and 141 (quietly)
    when stdout's reader went away (`| head`)."""
    try:
        with stop.sigterm_unwinds():
            code = int(args.func(args) or 0)
        sys.stdout.flush()  # a closed pipe fails here, not at exit
        return code
    except BrokenPipeError:
        with contextlib.suppress(OSError, ValueError, AttributeError):  # in-process stdout may have no fd
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        return 141
    except (DiffkitError, OSError, KeyboardInterrupt) as e:
        if show_traceback and not isinstance(e, KeyboardInterrupt):
            traceback.print_exception(e)
        line, code = describe(e, show_traceback) or (str(e), 1)
        print(f"diffkit: error: {line}", file=sys.stderr)
        return code
