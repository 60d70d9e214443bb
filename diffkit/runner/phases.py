"""The phases of a training run around its steps: begin, log, sample, save, finish, end.

Each takes the `Training` record and changes only what its
name says; ``runner/train.py`` calls them in order. Host-device sync points are marked
``# sync``."""

from __future__ import annotations

import signal
import sys
import time
from typing import Any

import torch

from diffkit import checkpoint as ckpt
from diffkit.errors import NonFiniteError
from diffkit.runner import provenance, rundir
from diffkit.runner.distributed import describe
from diffkit.runner.evaluate import numeric
from diffkit.runner.sample import generate
from diffkit.runner.setup import Training


def finished_before(t: Training) -> bool:
    """The run already completed every step (a finished run given to ``--resume``);
    one killed after its last step still runs its end phase."""
    done = rundir.read_json(t.dir / rundir.STATUS).get("status") == "completed"
    if t.run.step >= t.plan.steps and done:
        if t.env.is_main:
            print(f"diffkit: {t.dir} already finished {t.run.step} of {t.plan.steps} steps", file=sys.stderr)
        return True
    return False


def begin(t: Training) -> None:
    """Mark the run running, call ``diffkit_run_start`` and, on a fresh run, log the forward process."""
    if not t.env.is_main:
        return
    if t.env.enabled:
        print(describe(t.env, t.cfg.data.batch_size, t.tc.accumulate), file=sys.stderr)
    rundir.write_json(t.dir / rundir.STATUS, {"status": "running", "step": t.run.step})
    provenance.write_start(t.dir, t.cfg, t.plugins, device=t.device, precision=t.precision, world_size=t.env.world_size)
    t.hook.diffkit_run_start(run=t.run)
    if t.run.step == 0:
        strip = t.pictures.forward_strip(t.parts.scheduler, t.batches(0)[0])
        t.hook.diffkit_images(run=t.run, step=0, tag="forward_process", images=strip)


def raise_if_nonfinite(t: Training) -> None:
    bad = t.env.earliest(t.window.first_bad)  # sync
    if bad >= 0:
        raise NonFiniteError(
            f"loss or gradient became non-finite at step {bad}; stopped, the last good "
            f"checkpoint in {t.dir / rundir.CHECKPOINTS} is intact "
            "(lower optim.lr, set optim.grad_clip, or train.on_nonfinite=skip)"
        )


def log(t: Training) -> None:
    """Log the window's mean loss, the LR and the speed (``diffkit_log``), then reset it."""
    raise_if_nonfinite(t)
    w = t.window
    elapsed = time.perf_counter() - w.started
    t.last_loss = float(t.env.mean_(w.loss_sum)) / max(1, w.steps)  # sync: the mean over ranks
    metrics = {
        "train/loss": t.last_loss,
        "train/lr": t.state.optimizer.param_groups[0]["lr"],
        "train/images_per_sec": w.steps * t.run.info["global_batch"] / max(elapsed, 1e-9),
        "train/global_batch": float(t.run.info["global_batch"]),
    }
    if w.skipped:
        metrics["train/skipped_steps"] = float(w.skipped)
    if t.env.is_main:
        t.hook.diffkit_log(run=t.run, step=t.run.step, metrics=metrics)
    w.reset()


def sample(t: Training) -> None:
    """Save a grid of ``train.num_samples`` images and hand it to ``diffkit_images``."""
    if not t.env.is_main:
        return
    images = generate(
        t.sample_model(),
        t.parts.scheduler,
        t.parts.sampler,
        t.tc.num_samples,
        t.data.sample_shape,
        device=t.device,
        seed=t.cfg.seed,
        batch_size=t.cfg.data.batch_size,
    )
    t.pictures.save(images, t.dir / rundir.SAMPLES / f"step_{t.run.step:07d}.png")
    t.hook.diffkit_images(run=t.run, step=t.run.step, tag="samples", images=t.pictures.shown(images))


def save(t: Training) -> None:
    """Write the checkpoint of the step just completed (rotating old ones); refuse
    non-finite weights so that the last good checkpoint stays."""
    raise_if_nonfinite(t)
    window_loss = t.env.mean_(t.window.loss_sum.clone())  # sync: every rank resumes with the mean
    if not t.env.is_main:
        return
    step = t.run.step
    if not all(torch.isfinite(p).all() for p in [*t.model.parameters(), *t.model.buffers()]):  # sync
        raise NonFiniteError(f"weights are not finite at step {step}; kept the last good checkpoint")
    saved: dict[str, Any] = {
        "format": ckpt.FORMAT_VERSION,
        "step": step,
        "config": t.run.config,
        "components": t.parts.records(),
        "in_channels": int(t.data.sample_shape[0]),
        "sample_shape": list(t.data.sample_shape),
        "num_classes": t.num_classes,
        **t.state.state_dict(),
        "window": t.window.state_dict(window_loss),
        "budget": t.plan.state_dict(),
        "plugins": {},
    }
    t.hook.diffkit_checkpoint_save(run=t.run, state=saved["plugins"])
    if t.state.ema is not None:
        t.state.ema.snapshot(t.dir, step)  # before the checkpoint: a resume never misses a snapshot
    ckpt.save_rotating(saved, t.dir / rundir.CHECKPOINTS, step, t.cfg.run.keep_checkpoints)
    rundir.write_json(t.dir / rundir.STATUS, {"status": "running", "step": step, **t.plan.status(step)})
    t.last_saved = step


def finish(t: Training) -> None:
    """After the last step: the final grid and, with ``eval.metrics``, the evaluation."""
    sample(t)
    if t.evaluator is not None:
        t.scores = t.evaluator(t.sample_model(), t.parts.scheduler, t.parts.sampler)
        t.hook.diffkit_eval(run=t.run, step=t.run.step, metrics=numeric(t.scores))


def end(t: Training, status: str) -> None:
    """Record how the run ended (status.json, metrics.json when completed) and call
    ``diffkit_run_end``; a full or read-only disk keeps the error that stopped the run."""
    if not t.env.is_main:
        return
    final = {"train/loss": t.last_loss, "step": float(t.run.step), **t.plan.metrics(t.run.step)}
    signalled = {"signal": t.stop.signum} if status == "interrupted" else {}
    try:
        rundir.write_json(
            t.dir / rundir.STATUS, {"status": status, "step": t.run.step, **signalled, **t.plan.status(t.run.step)}
        )
        if status == "completed":
            rundir.write_json(t.dir / rundir.METRICS, {**final, **t.scores})
        evaluation = (
            provenance.evaluation(t.evaluator.provenance, ema=t.sample_model() is not t.model)
            if t.scores and t.evaluator
            else None
        )
        provenance.write_end(t.dir, step=t.run.step, evaluation=evaluation)
    except OSError:
        if status == "completed":
            raise
    t.hook.diffkit_run_end(run=t.run, status=status, metrics={**final, **numeric(t.scores)})


def say_interrupted(t: Training) -> None:
    if not t.env.is_main:
        return
    name = signal.Signals(t.stop.signum).name if t.stop.signum else "a stop signal on another rank"
    print(
        f"diffkit: {name} received; saved step {t.run.step} in {t.dir}; resume with: diffkit train --resume {t.dir}",
        file=sys.stderr,
    )
