"""The peers' networks and training/sampling steps, sized to a diffkit denoiser's
parameter count: diffusers ``UNet2DModel`` + ``DDPMScheduler`` and
denoising-diffusion-pytorch ``Unet`` + ``GaussianDiffusion``. Each runs with its own
library's noising, loss and sampling loop; only the width is chosen here."""

from __future__ import annotations

import contextlib
import importlib.util
import io
from collections.abc import Callable

import torch
from torch import Tensor, nn

from benchmarks.throughput import Case

PEERS = {"diffusers": "diffusers", "denoising-diffusion-pytorch": "denoising_diffusion_pytorch"}


def installed(peer: str) -> bool:
    return importlib.util.find_spec(PEERS[peer]) is not None


def count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def match_width(build: Callable[[int], nn.Module], target: int, step: int = 8) -> nn.Module:
    """The model whose base width (a multiple of `step`) gives the parameter count
    closest to `target`; the count grows with the width, so stop once past it."""
    best, width = None, step
    while True:
        model = build(width)
        if best is None or abs(count(model) - target) < abs(count(best) - target):
            best = model
        if count(model) >= target:
            return best
        width += step


def diffusers_case(target: int, size: int, steps: int, device: torch.device) -> Case:
    from diffusers import DDPMScheduler, UNet2DModel

    def build(w: int) -> nn.Module:
        return UNet2DModel(
            sample_size=size,
            in_channels=1,
            out_channels=1,
            layers_per_block=1,
            block_out_channels=(w, 2 * w, 4 * w),
            norm_num_groups=8,
            down_block_types=("DownBlock2D",) * 3,
            up_block_types=("UpBlock2D",) * 3,
        )

    model = match_width(build, target).to(device)
    sched = DDPMScheduler(num_train_timesteps=steps)

    def loss(x0: Tensor) -> Tensor:
        t = torch.randint(0, steps, (x0.shape[0],), device=device)
        noise = torch.randn_like(x0)
        return nn.functional.mse_loss(model(sched.add_noise(x0, noise, t), t).sample, noise)

    @torch.inference_mode()
    def sample(b: int) -> Tensor:
        model.eval()
        sched.set_timesteps(steps)
        x = torch.randn((b, 1, size, size), device=device)
        for t in sched.timesteps:
            x = sched.step(model(x, t).sample, t, x).prev_sample
        model.train()
        return x

    return Case("diffusers UNet2DModel", model, loss, sample, (1, size, size))


def lucidrains_case(target: int, size: int, steps: int, device: torch.device) -> Case:
    from denoising_diffusion_pytorch import GaussianDiffusion, Unet

    unet = match_width(lambda w: Unet(dim=w, dim_mults=(1, 2, 4), channels=1), target)
    diffusion = GaussianDiffusion(unet, image_size=size, timesteps=steps, sampling_timesteps=steps).to(device)

    def loss(x0: Tensor) -> Tensor:
        return diffusion((x0 + 1) / 2)  # it normalises [0, 1] images itself

    def sample(b: int) -> Tensor:
        with contextlib.redirect_stderr(io.StringIO()):  # its tqdm bar
            return diffusion.sample(batch_size=b)

    return Case("denoising-diffusion-pytorch Unet", unet, loss, sample, (1, size, size))


BUILDERS = {"diffusers": diffusers_case, "denoising-diffusion-pytorch": lucidrains_case}
