"""Entry point of the ``diffkit`` command."""

from __future__ import annotations

import argparse
import contextlib
import errno
import os
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
    return run_command(args)


def run_command(args: argparse.Namespace) -> int:
    """Run the chosen command; every fault a user can meet ends in one line on stderr:
    exit 2 for usage and config errors, 1 for runtime faults (non-finite training, file
    systems), 130 for Ctrl-C, 141 (quietly) when stdout's reader went away (`| head`)."""
    try:
        code = int(args.func(args) or 0)
        sys.stdout.flush()  # a closed pipe fails here, not at exit
        return code
    except NonFiniteError as e:
        return _fail(str(e), 1)
    except DiffkitError as e:
        return _fail(str(e), 2)
    except BrokenPipeError:
        with contextlib.suppress(OSError, ValueError, AttributeError):  # in-process stdout may have no fd
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        return 141
    except OSError as e:
        return _fail(os_error(e), 1)
    except KeyboardInterrupt as e:
        return _fail(f"interrupted{': ' + str(e) if str(e) else ''}", 130)


def os_error(e: OSError) -> str:
    """``PATH: reason`` (both paths for a rename), with a hint for a full disk."""
    paths = ": ".join(str(p) for p in (e.filename, e.filename2) if p is not None)
    reason = e.strerror or str(e)
    hint = "; free some space and resume" if e.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG) else ""
    return f"{paths}: {reason}{hint}" if paths else f"{reason}{hint}"


def _fail(message: str, code: int) -> int:
    print(f"diffkit: error: {message}", file=sys.stderr)
    return code
