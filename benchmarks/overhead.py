"""Runner overhead: ``diffkit.runner.train.train`` vs a bare hand-written loop.

Both train the same denoiser (built from the same config), on the same in-memory
images, with Adam at the same lr and batch size, for the same number of steps.
Blocks alternate in one process (runner, bare, bare, runner, ...) so that drift in
the machine's load hits both; the reported figure is the median of the per-repeat
ratios runner / bare of seconds per step.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F

from benchmarks.common import load, median, run_runner, timed
from diffkit.runner.build import build_components, build_dataset
from diffkit.runner.data import fit_size
from diffkit.runner.device import resolve_device, seed_everything


def bare_seconds_per_step(overrides: Sequence[str], steps: int, warmup: int) -> float:
    """A nanoGPT-style loop: no hooks, no logging, no checks; `warmup` steps untimed."""
    composed, plugins = load(overrides)
    cfg = composed.cfg
    device = resolve_device(cfg.train.device)
    seed_everything(cfg.seed)
    data = fit_size(build_dataset(plugins.registry, cfg).load("train"), cfg.data.image_size)
    parts = build_components(plugins.registry, cfg, data.images.shape[1])
    model, scheduler = parts.denoiser.to(device).train(), parts.scheduler.to(device)
    images = data.images.to(device)
    a_bar, s_bar = scheduler.sqrt_alphas_cumprod, scheduler.sqrt_one_minus_alphas_cumprod
    opt = torch.optim.Adam(model.parameters(), lr=cfg.optim.lr)
    B, T, n = cfg.data.batch_size, scheduler.num_timesteps, images.shape[0]
    g = torch.Generator(device=device).manual_seed(0)

    def step() -> None:
        idx = torch.randint(0, n, (B,), device=device, generator=g)
        x0 = images[idx].float() / 127.5 - 1
        t = torch.randint(0, T, (B,), device=device, generator=g)
        noise = torch.randn(x0.shape, device=device, generator=g)
        x_t = a_bar[t].view(B, 1, 1, 1) * x0 + s_bar[t].view(B, 1, 1, 1) * noise
        loss = F.l1_loss(model(x_t, t), noise)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    def run(k: int) -> None:
        for _ in range(k):
            step()

    run(warmup)
    return timed(lambda: run(steps), device) / steps


def measure(overrides: Sequence[str], *, steps: int, log_every: int, repeats: int) -> dict[str, Any]:
    """Interleaved runner/bare blocks of `steps` timed steps each (after `log_every` warm-up)."""
    runner, bare, ratios = [], [], []
    for r in range(repeats):
        order = ("runner", "bare") if r % 2 == 0 else ("bare", "runner")
        got = {}
        for kind in order:
            if kind == "runner":
                got[kind] = run_runner(overrides, steps + log_every, log_every)
            else:
                got[kind] = bare_seconds_per_step(overrides, steps, log_every)
        runner.append(got["runner"])
        bare.append(got["bare"])
        ratios.append(got["runner"] / got["bare"])
    return {
        "overrides": list(overrides),
        "steps_per_block": steps,
        "repeats": repeats,
        "runner_ms_per_step": [round(1e3 * s, 3) for s in runner],
        "bare_ms_per_step": [round(1e3 * s, 3) for s in bare],
        "ratios": [round(x, 4) for x in ratios],
        "median_ratio": round(median(ratios), 4),
    }
