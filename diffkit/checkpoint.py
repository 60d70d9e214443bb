"""Checkpoints that survive crashes and refuse to run code.

Writes go to a temporary file in the same directory, are flushed and fsynced, then
renamed over the target (atomic on POSIX), and the directory is fsynced. Loads use
``torch.load(weights_only=True)``: a pickle that would import or call anything is
refused before it runs.
"""

from __future__ import annotations

import os
import pickle
import re
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import torch

from diffkit.errors import CheckpointError

FORMAT_VERSION = 1
LAST = "last.pt"
_NUMBERED = re.compile(r"step_(\d+)\.pt$")


def save_atomic(state: dict[str, Any], path: Path) -> None:
    """Write `state` to `path` so that `path` is always either the old or the new file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(state, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def load(path: Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a diffkit checkpoint safely; every failure is a CheckpointError naming the file."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise CheckpointError(
            f"refused to load {path}: it contains objects other than tensors and plain data "
            f"(a checkpoint not written by diffkit, or crafted to run code): {first}"
        ) from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError, ValueError) as e:
        raise CheckpointError(f"{path} is truncated or corrupt: {type(e).__name__}: {str(e).splitlines()[0]}") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT_VERSION:
        raise CheckpointError(f"{path} is not a diffkit checkpoint (format {FORMAT_VERSION})")
    return state


def numbered(directory: Path) -> list[Path]:
    """``step_*.pt`` files in `directory`, oldest step first."""
    found = [(int(m.group(1)), p) for p in Path(directory).glob("step_*.pt") if (m := _NUMBERED.search(p.name))]
    return [p for _, p in sorted(found)]


def save_rotating(state: dict[str, Any], directory: Path, step: int, keep: int) -> Path:
    """Write ``step_N.pt`` and ``last.pt``; delete numbered files beyond the newest `keep`."""
    directory = Path(directory)
    path = directory / f"step_{step:07d}.pt"
    save_atomic(state, path)
    _link_atomic(path, directory / LAST)
    for old in numbered(directory)[:-keep]:
        old.unlink(missing_ok=True)
    return path


def _link_atomic(source: Path, target: Path) -> None:
    """Point `target` at `source`'s data (a hard link, else a copy), replacing it atomically."""
    tmp = target.with_name(f".{target.name}.link.tmp")
    tmp.unlink(missing_ok=True)
    try:
        os.link(source, tmp)
    except OSError:
        save_atomic(load(source), target)
        return
    os.replace(tmp, target)


def latest(directory: Path) -> Path | None:
    """The newest loadable checkpoint in `directory`: last.pt, else the newest step file."""
    directory = Path(directory)
    for candidate in [directory / LAST, *reversed(numbered(directory))]:
        if candidate.is_file():
            try:
                load(candidate)
            except CheckpointError:
                continue
            return candidate
    return None
