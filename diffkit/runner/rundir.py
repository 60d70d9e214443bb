"""The run directory: created once, never clobbered, with small atomic JSON files.

Layout: config.yaml (resolved), checkpoints/{step_N.pt,last.pt}, samples/step_N.png,
status.json ({status, step, ...}), metrics.json (final metrics), warnings.txt (the config
checks' warnings, when there are any), history.json (config changes made at resumes),
.lock (the writing process, ``runner/lock.py``), TensorBoard events.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from diffkit.atomic import atomic_path, fsync_dir, umask
from diffkit.errors import ConfigError, DataError

CONFIG = "config.yaml"
STATUS = "status.json"
METRICS = "metrics.json"
WARNINGS = "warnings.txt"
HISTORY = "history.json"
CHECKPOINTS = "checkpoints"
SAMPLES = "samples"


def create(requested: str | None, stem: str = "run", files: dict[str, str] | None = None) -> Path:
    """Make a fresh run directory holding `files` (name -> text). An explicit `requested`
    path must not hold a run; without one, ``runs/<time>-<stem>`` gets a numeric suffix
    if it exists. The directory is filled under a hidden name and renamed into place, so
    an interruption leaves either no run directory or one with all of `files`."""
    if requested:
        check_free(requested)
        return _publish(Path(requested), files or {})
    base = Path("runs") / f"{time.strftime('%Y%m%d-%H%M%S')}-{stem}"
    path, n = base, 1
    while True:
        try:
            return _publish(path, files or {}, exclusive=True)
        except FileExistsError:
            n += 1
            path = base.with_name(f"{base.name}-{n}")


def _publish(path: Path, files: dict[str, str], exclusive: bool = False) -> Path:
    """Write `files` into a hidden sibling of `path`, then rename it to `path` (which
    may exist as an empty directory unless `exclusive`)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if exclusive and path.exists():
        raise FileExistsError(path)
    try:
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    except OSError as e:  # name the user's path, not the hidden one
        raise OSError(e.errno, f"cannot create the run directory ({e.strerror})", str(path)) from None
    try:
        os.chmod(tmp, 0o777 & ~umask())  # mkdtemp makes 0700
        for name, text in files.items():
            (tmp / name).write_text(text)
        os.rename(tmp, path)
    except BaseException as e:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(e, OSError) and not isinstance(e, FileExistsError) and e.errno is not None:
            raise OSError(e.errno, f"cannot create the run directory ({e.strerror})", str(path)) from None
        raise
    fsync_dir(path.parent)
    return path


def check_free(requested: str | None) -> None:
    """Raise ConfigError when `requested` names a file or a non-empty directory."""
    path = Path(requested) if requested else None
    if path is not None and path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise ConfigError(
            f"run.dir={requested} already exists and is not "
            f"{'empty' if path.is_dir() else 'a directory'}; continue a run with "
            f"`diffkit train --resume {requested}` or choose another run.dir"
        )


def write_text_atomic(path: Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_json(path: Path, data: dict[str, Any]) -> None:
    write_text_atomic(path, json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")


def read_json(path: Path) -> dict[str, Any]:
    """The JSON object in `path`; {} when there is no file. A file that is not a JSON
    object (diffkit writes them atomically, so someone else wrote it) is a DataError."""
    path = Path(path)
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as e:
        raise DataError(f"{path} is not valid JSON ({e}); move it aside, diffkit writes a new one") from None
    if not isinstance(data, dict):
        raise DataError(
            f"{path} holds a JSON {type(data).__name__}, not an object; move it aside, diffkit writes a new one"
        )
    return data
