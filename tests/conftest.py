"""Shared fixtures: a plugin set with the built-ins, CLI runners and tiny configs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from diffkit import load_plugins
from diffkit.plugin_manager import Plugins

REPO = Path(__file__).resolve().parents[1]

#: overrides that make a run take seconds: 8x8 digits, a 2-level U-Net, T=50, fp32.
TINY = [
    "data.image_size=8",
    "data.batch_size=16",
    "denoiser.channels=[8,16]",
    "time_embedding.dim=8",
    "scheduler.num_timesteps=50",
    "train.steps=6",
    "train.log_every=2",
    "train.sample_every=0",
    "train.checkpoint_every=3",
    "train.num_samples=4",
    "train.progress=false",
    "train.precision=fp32",  # the default, auto, is bf16 on CPUs with bf16 units: keep tests' numbers machine-independent
]

torch.set_num_threads(1)


@pytest.fixture(scope="session")
def plugins() -> Plugins:
    """The built-in plugins only (third-party autoload off)."""
    return load_plugins(autoload=False)


def error_lines(stderr: str) -> list[str]:
    """The non-empty lines of `stderr` other than the config checks' ``diffkit: warning:`` lines."""
    return [ln for ln in stderr.strip().splitlines() if ln.strip() and not ln.startswith("diffkit: warning:")]


def cli_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update({"OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}, **extra)
    return env


def run_cli(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = 300, check: bool = True
) -> subprocess.CompletedProcess:
    """Run ``python -m diffkit ARGS`` in a subprocess; `check` asserts exit code 0."""
    proc = subprocess.run(
        [sys.executable, "-m", "diffkit", *args],
        cwd=cwd,
        env=env or cli_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if check:
        assert proc.returncode == 0, f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    return proc
