"""Writes scalars, images, text and HParams of a run into TensorBoard event files in
the run dir.

A plugin on the lifecycle hooks, like any third-party tracker; block it with
``-p no:tensorboard``. What goes to the HParams dashboard: ``tb_hparams``; how
images and text look: ``tb_figures``.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Any

from torch import Tensor

from diffkit import hookimpl
from diffkit.interfaces.run import RunContext
from diffkit.runner.sample import forward_timesteps
from diffkit_builtin.trackers import tb_figures, tb_hparams, tb_posthoc

_writers: dict[str, Any] = {}


def _writer(run: RunContext) -> Any:
    key = str(run.dir)
    if key not in _writers:
        from torch.utils.tensorboard import SummaryWriter

        # On resume, readers drop the earlier files' events at steps > start_step (the
        # killed run logged them after the checkpoint; this run logs them again).
        _writers[key] = SummaryWriter(log_dir=key, purge_step=run.start_step + 1 if run.start_step else None)
    return _writers[key]


def shown_hparams(run: RunContext) -> dict[str, Any]:
    """The run's hyperparameters in the HParams dashboard: ``run.hparams``, else the curated set."""
    return tb_hparams.select(run.hparams, (run.config.get("run") or {}).get("hparams"))


def scalars(metrics: dict[str, float]) -> dict[str, float]:
    """The metrics that get scalar cards: all but the constant bookkeeping values."""
    return {k: v for k, v in metrics.items() if k not in tb_hparams.BOOKKEEPING}


@hookimpl
def diffkit_run_start(run: RunContext) -> None:
    """Hyperparameters go out at the start, so a running or failed run is in the HParams
    table too; its status (and, once completed, the metric columns) follow at the end."""
    if not run.is_main:
        return
    writer = _writer(run)
    shown = shown_hparams(run)
    if shown:
        writer.file_writer.add_summary(tb_hparams.start_summary(shown), run.start_step)
    facts = {k: v for k, v in run.info.items() if isinstance(v, (str, int, float))}
    text = f"**{run.dir.name}**: {'resumed at step ' + str(run.start_step) if run.start_step else 'started'}\n\n"
    writer.add_text("run", text + tb_figures.markdown_table({**shown, **facts}), run.start_step)
    if run.info.get("warnings"):
        writer.add_text("warnings", "\n\n".join(run.info["warnings"]), run.start_step)
    writer.flush()


@hookimpl
def diffkit_log(run: RunContext, step: int, metrics: dict[str, float]) -> None:
    writer = _writer(run)
    for name, value in scalars(metrics).items():
        writer.add_scalar(name, value, step)


@hookimpl
def diffkit_images(run: RunContext, step: int, tag: str, images: Tensor) -> None:
    """Small images are scaled up; ``forward_process`` frames are labelled with their t."""
    if tag == "forward_process":
        num_timesteps = int(run.config.get("scheduler", {}).get("num_timesteps", 0))
        t = forward_timesteps(num_timesteps, images.shape[0]).tolist() if num_timesteps else []
        labels = [f"t={v}" for v in t] if len(t) == images.shape[0] else [""] * images.shape[0]
        picture = tb_figures.labelled_frames(images, labels)
    else:
        picture = tb_figures.grid(images, nrow=max(1, math.ceil(math.sqrt(images.shape[0]))))
    _writer(run).add_image(tag, picture, step)


@hookimpl
def diffkit_checkpoint_save(run: RunContext, state: dict[str, Any]) -> None:
    """Flush, so that a run killed later keeps every event up to its checkpoint."""
    writer = _writers.get(str(run.dir))
    if writer is not None:
        writer.flush()


@hookimpl
def diffkit_eval(run: RunContext, step: int, metrics: dict[str, float]) -> None:
    """Scalars ``eval/*`` at `step`, and how they were measured (``eval/num_samples``, ...)
    as text; a writer opened only for them (``diffkit eval``) is closed."""
    opened_here = str(run.dir) not in _writers
    writer = _writer(run)
    for name, value in scalars(metrics).items():
        writer.add_scalar(name, value, step)
    facts = {k: v for k, v in metrics.items() if k in tb_hparams.BOOKKEEPING}
    if facts:
        writer.add_text("eval", f"evaluation at step {step}\n\n" + tb_figures.markdown_table(facts), step)
    writer.flush()
    if opened_here:
        _writers.pop(str(run.dir)).close()
    tb_posthoc.write_sessions(run.dir, step, metrics, shown_hparams(run))  # post-hoc EMA lengths, if any


@hookimpl
def diffkit_run_end(run: RunContext, status: str, metrics: dict[str, float]) -> None:
    """The session's status (completed or failed; an interrupted run is resumed later)
    and a text summary of the final metrics."""
    writer = _writers.pop(str(run.dir), None)
    if writer is None:
        return
    if status == "completed" and shown_hparams(run):
        experiment = tb_hparams.experiment_summary(shown_hparams(run), run.info.get("metric_info"), metrics)
        writer.file_writer.add_summary(experiment, run.step)
    end = tb_hparams.end_summary(status)
    if end is not None:
        writer.file_writer.add_summary(end, run.step)
    ordered = {**{k: metrics[k] for k in tb_hparams.METRICS if k in metrics}, **metrics}
    writer.add_text(
        "run",
        f"**{run.dir.name}**: {status} at step {run.step}\n\n"
        + tb_figures.markdown_table(ordered, ("metric", "value"))
        + "\n\n"
        + tb_figures.markdown_table(shown_hparams(run), ("hyperparameter", "value")),
        run.step,
    )
    writer.flush()
    writer.close()
    if status == "completed" and in_sweep(run):
        refresh_comparison(run.dir.parent, run.dir)
    elif status == "failed" and in_sweep(run):  # the sweep's last run: the board shows the end
        refresh_comparison(run.dir.parent, None)


def in_sweep(run: RunContext) -> bool:
    """True for a run that ``diffkit sweep`` started (its parent holds the sweep's logs)."""
    from diffkit.sweep.execute import LOGS

    return (run.dir.parent / LOGS).is_dir()


def refresh_comparison(sweep_dir: Path, run_dir: Path | None) -> None:
    """Rewrite the sweep's comparison table (TensorBoard TEXT, tag ``comparison``) with the
    runs finished so far, into `run_dir`, the run that just completed (None: the run that
    completed last), when it is due (``board.refresh_due``: the sweep's last run, or 30 s
    since the last refresh); a failure is one warning line, never a failed run."""
    from diffkit.sweep import write_comparison
    from diffkit.sweep.board import refresh_due

    try:
        if refresh_due(sweep_dir):
            write_comparison(sweep_dir, run_dir=run_dir)
    except Exception as e:  # noqa: BLE001 - the run itself is done and saved
        print(f"diffkit: warning: could not write the comparison table in {sweep_dir}: {e}", file=sys.stderr)
