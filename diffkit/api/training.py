"""Training from Python: ``diffkit.train`` and ``diffkit.resume``, the functions behind
``diffkit train``. Both hold the run's lock, raise DiffkitError subclasses for what a
user can fix, and leave no global state behind (signal handlers, torch's RNG and
deterministic mode are put back), so they can be called again in a notebook."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import torch
from omegaconf import OmegaConf

from diffkit.api.config import Config, ConfigSource, compose, compose_from
from diffkit.api.run import Run
from diffkit.config import read_yaml
from diffkit.errors import ConfigError
from diffkit.runner import rundir
from diffkit.runner.train import train as run_training


def train(
    config: ConfigSource = None,
    overrides: Sequence[str] = (),
    *,
    run_dir: str | Path | None = None,
    plugins: Sequence[Any] = (),
) -> Run:
    """Train a new run from `config` (a YAML file, a mapping, a `Config` or None
    for the defaults) with `overrides` (``"optim.lr=2e-3"``); `run_dir`: where (default
    ``runs/<time>-<config stem>``); `plugins`: plugin module names (``-p``, ``no:NAME``
    blocks one) or plugin objects with ``diffkit_*`` hook methods, as ``pytest.main(plugins=...)``
    takes them. Returns the run; ``run.status`` is ``completed``,
    or ``interrupted`` after Ctrl-C (resume it with `resume`)."""
    composed = compose(config, overrides, plugins=plugins)
    if run_dir is not None:
        OmegaConf.update(composed.cfg, "run.dir", str(run_dir))
    return _train(composed, None, False)


def resume(
    run_dir: str | Path, overrides: Sequence[str] = (), *, allow_changes: bool = False, plugins: Sequence[Any] = ()
) -> Run:
    """Continue the run in `run_dir` from its latest checkpoint (a finished run with a
    larger ``train.steps`` trains on). Overrides that change what the checkpoint means
    are refused unless `allow_changes`; every change is recorded in ``history.json``."""
    path = Path(run_dir)
    if not path.is_dir():
        raise ConfigError(f"run directory not found: {path}")
    base = read_yaml(path / rundir.CONFIG)
    return _train(compose_from(None, overrides, plugins, base=base, stem=path.name), path, allow_changes)


def _train(config: Config, resume_dir: Path | None, allow_changes: bool) -> Run:
    assert config.composed is not None
    with isolated():
        out = run_training(
            config.composed, config.plugins, resume=resume_dir, stem=config.stem, allow_changes=allow_changes
        )
    return Run(out, plugins=config.extra_plugins)


@contextlib.contextmanager
def isolated() -> Iterator[None]:
    """Put back what training changes process-wide: torch's CPU RNG (and CUDA's), and
    deterministic mode; Python's and NumPy's RNG states."""
    import random

    import numpy as np

    deterministic = torch.are_deterministic_algorithms_enabled()
    py_state, np_state = random.getstate(), np.random.get_state()
    devices = list(range(torch.cuda.device_count())) if torch.cuda.is_initialized() else []
    try:
        with torch.random.fork_rng(devices=devices):
            yield
    finally:
        torch.use_deterministic_algorithms(deterministic)
        random.setstate(py_state)
        np.random.set_state(np_state)
