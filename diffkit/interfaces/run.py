"""What lifecycle hooks receive about the run: part of the plugin API."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class RunContext:
    """A training run as plugins see it.

    dir: the run directory; config: the resolved config as plain dicts;
    step: the optimizer step just completed (0 before the first);
    start_step: the step training (re)started from; is_main: rank 0 (plugins
    that write files should act only there); hparams: flat hyperparameters for
    comparison tools; info: free-form facts (device, parameter count, ...).
    """

    dir: Path
    config: dict[str, Any]
    step: int = 0
    start_step: int = 0
    is_main: bool = True
    world_size: int = 1
    hparams: dict[str, Any] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)
