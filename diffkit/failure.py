"""What a fault becomes for a user: one line and an exit code.

Exit 2 for usage and config errors, 1 for runtime faults (non-finite training, a failing
plugin, file systems), 130 for Ctrl-C, 143 for a SIGTERM outside training. The command line and a sweep's in-process runs
both report faults through `describe`, so a run's log shows the line a terminal
would."""

from __future__ import annotations

import errno

from diffkit.errors import DiffkitError, NonFiniteError, PluginHookError

TRACEBACK_ENV = "DIFFKIT_TRACEBACK"


def describe(error: BaseException, show_traceback: bool = False) -> tuple[str, int] | None:
    """(the line to print after ``diffkit: error:``, the exit code) for a fault a user can
    meet; None for anything else (a bug: its traceback is the report)."""
    if isinstance(error, DiffkitError):
        hint = (
            f" (full traceback: --traceback or {TRACEBACK_ENV}=1)"
            if isinstance(error, PluginHookError) and not show_traceback
            else ""
        )
        return f"{error}{hint}", 1 if isinstance(error, (NonFiniteError, PluginHookError)) else 2
    if isinstance(error, OSError):
        return os_error(error), 1
    if isinstance(error, KeyboardInterrupt):  # Ctrl-C: 130; a SIGTERM that unwinds says its own code
        return f"interrupted{': ' + str(error) if str(error) else ''}", int(getattr(error, "exit_code", 130))
    return None


def os_error(e: OSError) -> str:
    """``PATH: reason`` (both paths for a rename), with a hint for a full disk."""
    paths = ": ".join(str(p) for p in (e.filename, e.filename2) if p is not None)
    reason = e.strerror or str(e)
    hint = "; free some space and resume" if e.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG) else ""
    return f"{paths}: {reason}{hint}" if paths else f"{reason}{hint}"
