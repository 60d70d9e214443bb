"""Checkpoints that survive crashes and refuse to run code.

Writes go to a temporary file in the same directory, are flushed and fsynced, then
renamed over the target (atomic on POSIX), and the directory is fsynced. Loads first
check the archive (complete, every member's CRC right), then use
``torch.load(weights_only=True)``: a pickle that would import or call anything is
refused before it runs.
"""

from __future__ import annotations

import io
import os
import pickle
import re
import sys
import zipfile
from pathlib import Path
from typing import Any

import torch

from diffkit.atomic import atomic_path, fsync_dir
from diffkit.errors import CheckpointError, UnsafeCheckpointError

FORMAT_VERSION = 1
LAST = "last.pt"
#: keys every diffkit checkpoint holds (``diffkit sample`` and ``--resume`` read them).
REQUIRED = ("step", "config", "model", "in_channels", "num_classes")
_NUMBERED = re.compile(r"step_(\d+)\.pt$")
_GLOBAL = re.compile(r"GLOBAL (\S+)")


class _Writer(io.RawIOBase):
    """A file torch.save writes through, keeping the OSError (full disk, quota, file size
    limit) that torch would turn into a RuntimeError without errno or path."""

    def __init__(self, f: io.BufferedWriter) -> None:
        self.f: io.BufferedWriter = f
        self.error: OSError | None = None

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        try:
            return self.f.write(data)
        except OSError as e:
            self.error = e
            raise


def save_atomic(state: dict[str, Any], path: Path) -> None:
    """Write `state` to `path` so that `path` is always either the old or the new file.
    A failed write raises the OSError (errno, path) that caused it."""
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        writer = _Writer(f)
        try:
            torch.save(state, writer)  # type: ignore[arg-type]  # a RawIOBase is a binary file
            f.flush()
        except RuntimeError:
            if writer.error is None:
                raise
            raise OSError(writer.error.errno, writer.error.strerror, str(path)) from None


def load(path: Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a diffkit checkpoint safely; every failure is a CheckpointError naming the file
    (an UnsafeCheckpointError when the file would import or call code)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    _check_archive(path)
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        found = _GLOBAL.search(str(e))
        what = f"it would load {found.group(1)}" if found else "it holds objects other than tensors and plain data"
        raise UnsafeCheckpointError(
            f"refused to load {path}: {what} when unpickled; diffkit checkpoints hold only tensors "
            "and plain data, so this file was not written by diffkit or was crafted to run code"
        ) from None
    except (RuntimeError, EOFError, OSError, ValueError) as e:
        raise CheckpointError(f"{path} is truncated or corrupt: {_first_line(e)}") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT_VERSION:
        raise CheckpointError(f"{path} is not a diffkit checkpoint (format {FORMAT_VERSION})")
    missing = [k for k in REQUIRED if k not in state]
    if missing:
        raise CheckpointError(f"{path} is not a complete diffkit checkpoint: it lacks {', '.join(missing)}")
    return state


def mismatch(path: Path, error: Exception) -> CheckpointError:
    """The error for a checkpoint whose state does not fit the objects built from the config
    (`error`: what ``load_state_dict`` raised); names the file and the first difference."""
    lines = [line.strip() for line in str(error).strip().splitlines() if line.strip()]
    detail = lines[1] if len(lines) > 1 and lines[0].startswith("Error(s) in loading") else (lines or [""])[0]
    return CheckpointError(
        f"{path} does not fit the model built from the config (were denoiser or optim keys overridden?): {detail}"
    )


def _check_archive(path: Path) -> None:
    """Raise CheckpointError unless `path` is a complete zip whose members match their CRCs."""
    try:
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as e:
        raise CheckpointError(f"{path} is truncated or corrupt: not a complete PyTorch archive ({e})") from None
    if bad is not None:
        raise CheckpointError(f"{path} is corrupt: its member {bad} fails the CRC check")


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return f"{type(e).__name__}: {text.splitlines()[0]}" if text else type(e).__name__


def numbered(directory: Path) -> list[Path]:
    """``step_*.pt`` files in `directory`, oldest step first."""
    found = [(int(m.group(1)), p) for p in Path(directory).glob("step_*.pt") if (m := _NUMBERED.search(p.name))]
    return [p for _, p in sorted(found)]


def save_rotating(state: dict[str, Any], directory: Path, step: int, keep: int) -> Path:
    """Write ``step_N.pt`` and point ``last.pt`` at it; delete numbered files beyond the
    newest `keep` and temporary files left by a killed writer."""
    directory = Path(directory)
    path = directory / f"step_{step:07d}.pt"
    save_atomic(state, path)
    _link_atomic(path, directory / LAST)
    for old in numbered(directory)[:-keep]:
        old.unlink(missing_ok=True)
    for stale in directory.glob(".*.tmp"):
        stale.unlink(missing_ok=True)
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
    fsync_dir(target.parent)


def load_latest(directory: Path, map_location: str | torch.device = "cpu") -> tuple[Path, dict[str, Any]] | None:
    """The newest loadable checkpoint in `directory` and its state, or None.

    Tries numbered files newest first, then ``last.pt``, loading each once. A truncated
    or corrupt file is skipped with a warning, a file deleted meanwhile (rotated away by
    a run still training) silently; a file that would run code stops the search (raised).
    """
    directory = Path(directory)
    for candidate in [*reversed(numbered(directory)), directory / LAST]:
        if not candidate.is_file():
            continue
        try:
            return candidate, load(candidate, map_location)
        except UnsafeCheckpointError:
            raise
        except CheckpointError as e:
            if candidate.exists():  # else rotated away by a training run since listed: try the next
                print(f"diffkit: warning: skipping {e}", file=sys.stderr)
    return None


def latest(directory: Path) -> Path | None:
    """The path of `load_latest`'s checkpoint, or None."""
    found = load_latest(directory)
    return found[0] if found else None
