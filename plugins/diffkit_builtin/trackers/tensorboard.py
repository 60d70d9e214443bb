"""Writes scalars and images of a run into TensorBoard event files in the run dir.

A plugin on the lifecycle hooks, like any third-party tracker; block it with
``-p no:tensorboard``.
"""

from __future__ import annotations

import math
from typing import Any

from torch import Tensor

from diffkit import hookimpl
from diffkit.runner.context import RunContext

_writers: dict[str, Any] = {}


def _writer(run: RunContext) -> Any:
    key = str(run.dir)
    if key not in _writers:
        from torch.utils.tensorboard import SummaryWriter

        # On resume, readers drop the earlier files' events at steps > start_step (the
        # killed run logged them after the checkpoint; this run logs them again).
        _writers[key] = SummaryWriter(log_dir=key, purge_step=run.start_step + 1 if run.start_step else None)
    return _writers[key]


@hookimpl
def diffkit_run_start(run: RunContext) -> None:
    """Open the writer; the config checks' warnings become the text ``warnings``."""
    if run.is_main:
        writer = _writer(run)
        if run.info.get("warnings"):
            writer.add_text("warnings", "\n\n".join(run.info["warnings"]), run.start_step)


@hookimpl
def diffkit_log(run: RunContext, step: int, metrics: dict[str, float]) -> None:
    writer = _writer(run)
    for name, value in metrics.items():
        writer.add_scalar(name, value, step)


@hookimpl
def diffkit_images(run: RunContext, step: int, tag: str, images: Tensor) -> None:
    import torchvision.utils

    nrow = images.shape[0] if tag == "forward_process" else max(1, math.ceil(math.sqrt(images.shape[0])))
    grid = torchvision.utils.make_grid(images, nrow=nrow, padding=1)
    _writer(run).add_image(tag, grid, step)


@hookimpl
def diffkit_checkpoint_save(run: RunContext, state: dict[str, Any]) -> None:
    """Flush, so that a run killed later keeps every event up to its checkpoint."""
    writer = _writers.get(str(run.dir))
    if writer is not None:
        writer.flush()


@hookimpl
def diffkit_eval(run: RunContext, step: int, metrics: dict[str, float]) -> None:
    """Scalars ``eval/*`` at `step`; a writer opened only for them (``diffkit eval``) is closed."""
    opened_here = str(run.dir) not in _writers
    writer = _writer(run)
    for name, value in metrics.items():
        writer.add_scalar(name, value, step)
    writer.flush()
    if opened_here:
        _writers.pop(str(run.dir)).close()


@hookimpl
def diffkit_run_end(run: RunContext, status: str, metrics: dict[str, float]) -> None:
    """A completed run's hyperparameters go to the HParams plugin, in the run's own
    event files. No experiment summary is written, so TensorBoard gathers the
    hparams of every run under --logdir and offers every scalar tag (the last value,
    e.g. ``train/loss`` or ``eval/fid``) as a metric of its table and
    parallel-coordinates views."""
    writer = _writers.pop(str(run.dir), None)
    if writer is None:
        return
    if status == "completed" and run.hparams:
        from torch.utils.tensorboard.summary import hparams

        _, session_start, session_end = hparams(dict(run.hparams), dict(metrics))
        writer.file_writer.add_summary(session_start, run.step)
        writer.file_writer.add_summary(session_end, run.step)
    writer.flush()
    writer.close()
