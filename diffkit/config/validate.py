"""Range checks on the runner's own keys; components check their own parameters."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

from diffkit.config.compose import Composed
from diffkit.config.length import ALLOWED, is_budget
from diffkit.errors import ConfigError

OPTIMIZERS = ("adam", "adamw", "sgd")
#: sane upper bounds, checked before anything is allocated (memory is checked later, with estimates).
MAX_IMAGE_SIZE = 4096
MAX_TIMESTEPS = 100_000
Rule = tuple[str, Callable[[Any], bool], str]


def _finite(v: Any) -> bool:
    return isinstance(v, (int, float)) and math.isfinite(v)


RULES: list[Rule] = [
    ("seed", lambda v: 0 <= v < 2**32, "an integer in [0, 2**32)"),
    ("data.batch_size", lambda v: v >= 1, "an integer >= 1"),
    ("data.image_size", lambda v: 4 <= v <= MAX_IMAGE_SIZE, f"an integer in [4, {MAX_IMAGE_SIZE}]"),
    ("data.num_workers", lambda v: v >= 0, "an integer >= 0"),
    (
        "run.dir",
        lambda v: v is None or (isinstance(v, str) and not any(c in v for c in "\n\r\0")),
        "null or a path on one line (no newline)",
    ),
    ("run.keep_checkpoints", lambda v: v >= 1, "an integer >= 1"),
    ("run.on_hook_error", lambda v: all(p in ("raise", "warn") for p in v.values()), "{PLUGIN: raise or warn}"),
    ("optim.name", lambda v: v in OPTIMIZERS, f"one of {', '.join(OPTIMIZERS)}"),
    ("optim.lr", lambda v: _finite(v) and v > 0, "a finite number > 0"),
    ("optim.weight_decay", lambda v: _finite(v) and v >= 0, "a finite number >= 0"),
    ("optim.betas", lambda v: len(v) == 2 and all(0 <= b < 1 for b in v), "two numbers in [0, 1)"),
    ("optim.warmup_steps", lambda v: v >= 0, "an integer >= 0"),
    ("optim.lr_schedule", lambda v: v in ("constant", "cosine"), "constant or cosine"),
    ("optim.grad_clip", lambda v: v is None or (_finite(v) and v > 0), "null or a finite number > 0"),
    ("train.steps", lambda v: v is None or v >= 1, "an integer >= 1"),
    ("train.budget", lambda v: v is None or is_budget(v), ALLOWED),
    ("optim.warmup_fraction", lambda v: v is None or 0 <= v < 1, "null or a number in [0, 1)"),
    ("train.log_every", lambda v: v >= 1, "an integer >= 1"),
    ("train.sample_every", lambda v: v >= 0, "an integer >= 0 (0: only at the end)"),
    ("train.checkpoint_every", lambda v: v >= 0, "an integer >= 0 (0: only at the end)"),
    ("train.num_samples", lambda v: v >= 1, "an integer >= 1"),
    ("eval.num_samples", lambda v: v >= 2, "an integer >= 2"),
    ("eval.steps", lambda v: v is None or v >= 1, "null or an integer >= 1"),
    ("eval.batch_size", lambda v: v >= 1, "an integer >= 1"),
    ("train.device", lambda v: re.fullmatch(r"auto|cpu|cuda(:\d+)?|mps", v) is not None, "auto, cpu, cuda or cuda:N"),
    ("train.precision", lambda v: v in ("auto", "fp32", "bf16", "fp16"), "auto, fp32, bf16 or fp16"),
    ("train.accumulate", lambda v: v >= 1, "an integer >= 1"),
    ("train.on_nonfinite", lambda v: v in ("stop", "skip"), "stop or skip"),
    ("train.label_dropout", lambda v: 0 <= v <= 1, "a number in [0, 1]"),
    ("train.dist_timeout", lambda v: _finite(v) and v > 0, "a finite number of seconds > 0"),
]


def validate(composed: Composed) -> None:
    """Raise ConfigError naming the key, value, allowed values and source of the first bad key."""
    cfg = composed.cfg
    steps = cfg.scheduler.get("num_timesteps")
    if isinstance(steps, int) and steps > MAX_TIMESTEPS:  # lower bounds are the scheduler's to check
        raise ConfigError(
            f"scheduler.num_timesteps={steps} is not allowed; use an integer <= {MAX_TIMESTEPS} "
            f"({composed.source('scheduler.num_timesteps')})"
        )
    for key, ok, allowed in RULES:
        section, _, name = key.rpartition(".")
        value = cfg[section][name] if section else cfg[name]
        try:
            good = ok(value)
        except TypeError:
            good = False
        if not good:
            raise ConfigError(f"{key}={value!r} is not allowed; use {allowed} ({composed.source(key)})")
