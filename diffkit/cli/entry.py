"""The ``diffkit`` command's entry point: imports the commands (and with them torch)
inside a guard, so that a Ctrl-C while Python is still importing is one line, exit 130."""

from __future__ import annotations

import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    try:
        from diffkit.cli.main import main as run
    except KeyboardInterrupt:
        print("diffkit: error: interrupted while starting", file=sys.stderr)
        return 130
    return run(argv)
