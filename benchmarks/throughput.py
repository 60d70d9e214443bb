"""Training and sampling images/s of a denoiser, with each speed option on or off.

A training step is the runner's (sample a batch, q(x_t | x_0), forward, loss,
backward, Adam), with each option applied exactly as the runner applies its switch:
``train.channels_last`` (weights and inputs in NHWC), ``train.compile``
(``torch.compile`` of the denoiser), ``train.precision=bf16`` (autocast around the
forward). The overhead section shows the runner adds nothing to such a step.
Sampling is ``diffkit.runner.sample.generate`` with DDPM on a T = `steps` schedule.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from benchmarks.common import load, median, peak_memory, timed
from diffkit.runner.build import build_components
from diffkit.runner.device import autocast
from diffkit.runner.sample import generate


@dataclass
class Case:
    """One network to time: its parameters, a training-step function and a sampler."""

    name: str
    model: nn.Module
    loss: Callable[[Tensor], Tensor]  # x0 (B, C, H, W) in [-1, 1] -> scalar loss
    sample: Callable[[int], Tensor]  # batch size -> images (B, C, H, W)
    shape: tuple[int, int, int]

    @property
    def parameters(self) -> int:
        return sum(p.numel() for p in self.model.parameters())


def diffkit_case(name: str, overrides: Sequence[str], steps: int, device: torch.device) -> Case:
    """A built-in denoiser as the runner builds it, with a T = `steps` linear schedule."""
    composed, plugins = load([*overrides, f"scheduler.num_timesteps={steps}"])
    cfg = composed.cfg
    size = int(cfg.data.image_size)
    parts = build_components(plugins.registry, cfg, 1)
    model, scheduler = parts.denoiser.to(device), parts.scheduler.to(device)
    loss_fn, sampler, T = parts.loss.to(device), parts.sampler, scheduler.num_timesteps

    def loss(x0: Tensor) -> Tensor:
        t = torch.randint(0, T, (x0.shape[0],), device=device)
        noise = torch.randn_like(x0)
        out = model(scheduler.add_noise(x0, noise, t), t)
        return loss_fn(out.float(), scheduler.target(x0, noise, t), t, scheduler)

    def sample(b: int, num: int | None = None) -> Tensor:
        """`num` images (default b) drawn in batches of b."""
        return generate(model, scheduler, sampler, num or b, (1, size, size), device=device, batch_size=b)

    return Case(name, model, loss, sample, (1, size, size))


def with_option(case: Case, option: str, device: torch.device) -> tuple[Case, contextlib.AbstractContextManager]:
    """The case with `option` applied as the runner does, and the context to run it in."""
    if option == "channels_last":
        case.model.to(memory_format=torch.channels_last)
    if option == "compile":
        case.model.compile()  # in place: calls go through torch.compile, parameters stay the module's
    ctx = autocast(device, "bf16") if option == "bf16" else contextlib.nullcontext()
    return case, ctx


def batch(case: Case, b: int, device: torch.device, channels_last: bool) -> Tensor:
    x = torch.rand((b, *case.shape), device=device) * 2 - 1
    return x.contiguous(memory_format=torch.channels_last) if channels_last else x


def train_rate(
    case: Case,
    b: int,
    steps: int,
    warmup: int,
    device: torch.device,
    ctx: contextlib.AbstractContextManager,
    channels_last: bool = False,
    blocks: int = 3,
) -> dict[str, Any]:
    """images/s: the median over `blocks` blocks of `steps` Adam steps after `warmup` untimed
    ones, with the slowest and fastest block (`spread`), and peak memory."""
    case.model.train()
    opt = torch.optim.Adam(case.model.parameters(), lr=1e-4)
    x = batch(case, b, device, channels_last)

    def run(k: int) -> None:
        for _ in range(k):
            with ctx:
                loss = case.loss(x)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

    with peak_memory(device) as mem:
        run(warmup)
        seconds = [timed(lambda: run(steps), device) for _ in range(blocks)]
    rates = sorted(b * steps / t for t in seconds)
    return {
        "images_per_sec": round(median(rates), 3),
        "spread": [round(rates[0], 3), round(rates[-1], 3)],
        "blocks": blocks,
        "steps_per_block": steps,
        **_round(mem),
    }


def interleaved_train(
    cases: Sequence[Case], b: int, steps: int, warmup: int, device: torch.device, blocks: int
) -> list[list[float]]:
    """Seconds of each of `blocks` blocks of `steps` Adam steps per case (fp32, batch `b`),
    the cases taking turns block by block, so a change in machine load falls on all of them."""
    opts = [torch.optim.Adam(c.model.train().parameters(), lr=1e-4) for c in cases]
    xs = [batch(c, b, device, False) for c in cases]

    def run(i: int, k: int) -> None:
        for _ in range(k):
            loss = cases[i].loss(xs[i])
            opts[i].zero_grad(set_to_none=True)
            loss.backward()
            opts[i].step()

    for i in range(len(cases)):
        run(i, warmup)
    times: list[list[float]] = [[] for _ in cases]
    for _ in range(blocks):
        for i in range(len(cases)):
            times[i].append(timed(lambda i=i: run(i, steps), device))
    return times


def interleaved_sample(cases: Sequence[Case], b: int, repeats: int, device: torch.device) -> list[list[float]]:
    """Seconds of drawing `b` images, `repeats` times per case after one warm-up each, taking turns."""
    for c in cases:
        c.sample(b)
    times: list[list[float]] = [[] for _ in cases]
    for _ in range(repeats):
        for i, c in enumerate(cases):
            times[i].append(timed(lambda c=c: c.sample(b), device))
    return times


def sample_rate(
    case: Case, b: int, repeats: int, device: torch.device, ctx: contextlib.AbstractContextManager
) -> dict[str, Any]:
    """images/s of drawing `b` images (one batch), best of `repeats` after a warm-up."""
    with peak_memory(device) as mem:
        with ctx:
            case.sample(b)
            seconds = min(timed(lambda: case.sample(b), device) for _ in range(repeats))
    return {"images_per_sec": round(b / seconds, 3), **_round(mem)}


def _round(mem: dict[str, float]) -> dict[str, float]:
    return {k: round(v, 1) for k, v in mem.items()}
