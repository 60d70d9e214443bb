"""Exceptions that speak to users.

Every error a user can cause derives from `DiffkitError`; the CLI prints
its message on one line and exits with code 2, without a traceback.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class DiffkitError(Exception):
    """Base of every error caused by user input (config, files, plugins)."""


class ConfigError(DiffkitError):
    """A config key, value or file is wrong."""


class UnknownComponentError(DiffkitError):
    """A config names a component that no loaded plugin registered."""

    def __init__(self, kind: str, name: str, available: Iterable[str], hint: str = "") -> None:
        self.kind, self.name = kind, name
        self.available = sorted(available)
        close = difflib.get_close_matches(name, self.available, n=3, cutoff=0.5)
        parts = [f"unknown {kind} {name!r}"]
        if close:
            parts.append(f"did you mean {', '.join(repr(c) for c in close)}?")
        parts.append(f"available: {', '.join(self.available) or '(none)'}")
        if hint:
            parts.append(hint)
        parts.append(f"see `diffkit plugins --kind {kind}`")
        super().__init__("; ".join(parts))


class PluginError(DiffkitError):
    """A plugin failed to import, register, or declares an incompatible API."""


class PluginHookError(PluginError):
    """A plugin's lifecycle hook raised during a run (a runtime error: exit code 1)."""

    def __init__(self, message: str, plugin: str = "", hook: str = "") -> None:
        super().__init__(message)
        self.plugin, self.hook = plugin, hook


class PluginValidationError(PluginError):
    """A plugin registered a component that breaks its kind's contract."""


class CheckpointError(DiffkitError):
    """A checkpoint is missing, truncated, corrupt or unsafe to load."""


class UnsafeCheckpointError(CheckpointError):
    """A checkpoint would import or call code when unpickled; it was not loaded."""


class DataError(DiffkitError):
    """A dataset's files are missing or unreadable."""


class NonFiniteError(DiffkitError):
    """Training produced a NaN or infinite loss or gradient."""


class DistributedError(DiffkitError):
    """A distributed run lost a rank: a collective failed or timed out."""


def closest(name: str, options: Iterable[str]) -> str:
    """`"did you mean 'x'?"` for the options closest to `name`, or an empty string."""
    close = difflib.get_close_matches(name, list(options), n=3, cutoff=0.5)
    return f"did you mean {', '.join(repr(c) for c in close)}?" if close else ""
