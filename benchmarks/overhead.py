"""Runner overhead: ``diffkit.runner.train.train`` vs a bare hand-written loop.

Both train a denoiser built from the same config, on the same in-memory images, with the
same optimizer (``diffkit.runner.optim.build_optimizer``: Adam, fused on CPU) at the same lr
and batch size. The two alternate in small blocks inside one
``train()`` call: a plugin's ``diffkit_log`` hook (called every ``log_every`` steps)
runs ``log_every`` bare steps, so every runner window has a bare twin taken moments
later under the same machine load. Both run in the precision the runner resolves from the
config (``train.precision=auto`` is bf16 on a CPU with native bf16: the bare loop autocasts
the same way) and the same memory format (``train.channels_last``), with the same batch and
threads. The figure is the median over pairs of runner seconds per step / bare seconds per
step, with the spread (min, quartiles, max) of the pairs.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from benchmarks.common import load, median, quiet_overrides, sync
from diffkit import hookimpl
from diffkit.runner.build import build_components, build_dataset
from diffkit.runner.data import fit_size
from diffkit.runner.device import autocast, resolve_device, resolve_precision
from diffkit.runner.optim import build_optimizer


class BareLoop:
    """A nanoGPT-style loop: no hooks, no logging, no checks, no schedule; the runner's
    precision (autocast) and memory format."""

    def __init__(self, overrides: Sequence[str]) -> None:
        composed, plugins = load(overrides)
        cfg = composed.cfg
        self.device = resolve_device(cfg.train.device)
        self.precision = resolve_precision(self.device, cfg.train.precision)
        self.channels_last = bool(cfg.train.channels_last)
        data = fit_size(build_dataset(plugins.registry, cfg).load("train"), cfg.data.image_size)
        parts = build_components(plugins.registry, cfg, data.images.shape[1])
        self.model, scheduler = parts.denoiser.to(self.device).train(), parts.scheduler.to(self.device)
        if self.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.images = data.images.to(self.device)
        self.a_bar, self.s_bar = scheduler.sqrt_alphas_cumprod, scheduler.sqrt_one_minus_alphas_cumprod
        self.opt = build_optimizer(cfg, self.model)  # the runner's optimizer, fused where the runner fuses
        self.B, self.T = cfg.data.batch_size, scheduler.num_timesteps
        self.g = torch.Generator(device=self.device).manual_seed(0)

    def step(self) -> None:
        B, d, g = self.B, self.device, self.g
        idx = torch.randint(0, self.images.shape[0], (B,), device=d, generator=g)
        x0 = self.images[idx].float() / 127.5 - 1
        t = torch.randint(0, self.T, (B,), device=d, generator=g)
        noise = torch.randn(x0.shape, device=d, generator=g)
        x_t = self.a_bar[t].view(B, 1, 1, 1) * x0 + self.s_bar[t].view(B, 1, 1, 1) * noise
        if self.channels_last:
            x_t = x_t.contiguous(memory_format=torch.channels_last)
        with autocast(d, self.precision):
            out = self.model(x_t, t)
        loss = F.l1_loss(out.float(), noise)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()

    def seconds(self, steps: int) -> float:
        """Wall time of `steps` steps, device synchronised at both ends."""
        sync(self.device)
        t0 = time.perf_counter()
        for _ in range(steps):
            self.step()
        sync(self.device)
        return time.perf_counter() - t0


class Interleave:
    """Plugin: at each log call, close the runner's window and run a bare block."""

    def __init__(self, bare: BareLoop, block: int) -> None:
        self.bare, self.block = bare, block
        self.runner: list[float] = []
        self.bare_times: list[float] = []
        self.last_exit = 0.0
        self.last_step = 0

    @hookimpl
    def diffkit_log(self, run: Any, step: int, metrics: dict[str, float]) -> None:
        now = time.perf_counter()
        if self.last_step:  # the first window holds the first step's one-off costs
            self.runner.append((now - self.last_exit) / (step - self.last_step))
            self.bare_times.append(self.bare.seconds(self.block) / self.block)
        else:
            self.bare.seconds(self.block)  # warm-up twin
        self.last_step, self.last_exit = step, time.perf_counter()


def measure(overrides: Sequence[str], *, block: int, pairs: int) -> dict[str, Any]:
    """`pairs` runner/bare pairs of `block` steps each, after one warm-up pair."""
    import diffkit

    bare = BareLoop(overrides)
    timer = Interleave(bare, block)
    with tempfile.TemporaryDirectory() as tmp:
        diffkit.train(
            None, [*overrides, *quiet_overrides(Path(tmp) / "run", block * (pairs + 1), block)], plugins=[timer]
        )
    ratios = [r / b for r, b in zip(timer.runner, timer.bare_times)]
    return {
        "config": list(overrides) or ["configs/default.yaml"],
        "precision": bare.precision,
        "channels_last": bare.channels_last,
        "block_steps": block,
        "pairs": len(ratios),
        "runner_ms_per_step": round(1e3 * median(timer.runner), 3),
        "bare_ms_per_step": round(1e3 * median(timer.bare_times), 3),
        "ratios": [round(x, 4) for x in ratios],
        "median_ratio": round(median(ratios), 4),
        "ratio_spread": spread(ratios),
    }


def spread(values: Sequence[float]) -> dict[str, float]:
    """min, quartiles and max of `values` (quartiles by linear interpolation)."""
    q1, _, q3 = statistics.quantiles(values, n=4, method="inclusive") if len(values) > 1 else [values[0]] * 3
    return {k: round(v, 4) for k, v in (("min", min(values)), ("q1", q1), ("q3", q3), ("max", max(values)))}
