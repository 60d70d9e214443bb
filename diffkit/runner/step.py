"""One optimizer step: forward and backward over ``train.accumulate`` micro-batches,
gradient clipping, the update (or, with ``on_nonfinite=skip``, undoing it), EMA, LR."""

from __future__ import annotations

import torch

from diffkit.runner.device import autocast
from diffkit.runner.setup import Training


def train_step(t: Training) -> None:
    """Advance `t` by one optimizer step: ``t.run.step`` becomes the step just completed.

    Each micro-batch draws t ~ p(t) and eps ~ N(0, I) for the global batch and keeps this
    rank's shard, so a run's draws do not depend on the world size; the loss is
    ``loss(F(x_t, t), target(x0, eps, t))`` divided by ``accumulate``."""
    tc, env, s = t.tc, t.env, t.state
    s.optimizer.zero_grad(set_to_none=True)
    # skip mode undoes a skipped step's forward passes too (BatchNorm statistics)
    kept = [b.detach().clone() for b in t.model.buffers()] if tc.on_nonfinite == "skip" else []
    step_loss = torch.zeros((), device=t.device)
    for micro in range(tc.accumulate):
        step_loss += _micro_step(t, t.run.step * tc.accumulate + micro)
    finite = torch.isfinite(step_loss)
    if t.cfg.optim.grad_clip:
        s.scaler.unscale_(s.optimizer)
        norm = torch.nn.utils.clip_grad_norm_(t.model.parameters(), t.cfg.optim.grad_clip)
        if not s.scaler.is_enabled():  # fp16: overflowing gradients are the scaler's to skip
            finite &= torch.isfinite(norm)
    applied = not (tc.on_nonfinite == "skip" and not env.all_true(finite))  # sync (only in skip mode)
    if applied:
        s.scaler.step(s.optimizer)
        s.scaler.update()
        if s.ema is not None:
            s.ema.update(t.model, t.run.step + 1)  # the step being completed
    else:
        s.optimizer.zero_grad(set_to_none=True)
        for buffer, saved in zip(t.model.buffers(), kept):
            buffer.copy_(saved)
        s.scaler.update(s.scaler.get_scale() * s.scaler.get_backoff_factor() if s.scaler.is_enabled() else None)
    s.lr_schedule.step()
    t.run.step += 1
    t.window.add(step_loss, finite, t.run.step, applied)


def _micro_step(t: Training, index: int) -> torch.Tensor:
    """Forward and backward of micro-batch `index`; returns its (detached) loss share."""
    tc, env, gen, process = t.tc, t.env, t.state.gen, t.parts.scheduler
    x, y = t.batches(index)
    if tc.channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    n = x.shape[0] * env.world_size  # draw for the global batch, keep this rank's shard
    times = env.shard(process.sample_t(n, gen, t.device))
    noise = env.shard(t.noise(n, x.shape[1:], index))  # a function of (seed, index): paired arms share it
    if y is not None and t.num_classes and tc.label_dropout > 0:
        drop = env.shard(torch.rand((n,), generator=gen, device=t.device)) < tc.label_dropout
        y = torch.where(drop, torch.full_like(y, t.num_classes), y)  # label num_classes: the null label
    with autocast(t.device, t.precision):
        out = t.forward(*process.model_input(process.add_noise(x, noise, times), times), y if t.num_classes else None)
    loss = t.parts.loss(out.float(), process.target(x, noise, times), times, process) / tc.accumulate
    t.state.scaler.scale(loss).backward()
    return loss.detach()
