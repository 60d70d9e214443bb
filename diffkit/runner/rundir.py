"""The run directory: created once, never clobbered, with small atomic JSON files.

Layout: config.yaml (resolved), checkpoints/{step_N.pt,last.pt}, samples/step_N.png,
status.json ({status, step, ...}), metrics.json (final metrics), warnings.txt (the config
checks' warnings, when there are any), TensorBoard events.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from diffkit.atomic import atomic_path
from diffkit.errors import ConfigError

CONFIG = "config.yaml"
STATUS = "status.json"
METRICS = "metrics.json"
WARNINGS = "warnings.txt"
CHECKPOINTS = "checkpoints"
SAMPLES = "samples"


def create(requested: str | None, stem: str = "run") -> Path:
    """Make a fresh run directory. An explicit `requested` path must not hold a run;
    without one, ``runs/<time>-<stem>`` gets a numeric suffix if it exists."""
    if requested:
        check_free(requested)
        path = Path(requested)
        path.mkdir(parents=True, exist_ok=True)
        return path
    base = Path("runs") / f"{time.strftime('%Y%m%d-%H%M%S')}-{stem}"
    path, n = base, 1
    while True:
        try:
            path.mkdir(parents=True)
            return path
        except FileExistsError:
            n += 1
            path = base.with_name(f"{base.name}-{n}")


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
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return {}
