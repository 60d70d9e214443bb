"""Generating images with a trained denoiser, in bounded batches."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from diffkit.atomic import atomic_path
from diffkit.errors import ConfigError
from diffkit.interfaces import GuidanceFn, ModelFn, NoiseProcess, Sampler
from diffkit.runner.data import to_unit_range


def model_fn(denoiser: nn.Module, scheduler: NoiseProcess, labels: Tensor | None = None) -> ModelFn:
    """``model(x_t, t) = denoiser(*scheduler.model_input(x_t, t), labels)``: the process's input
    scaling and time map bound, with labels (B,) or None."""
    return lambda x, t: denoiser(*scheduler.model_input(x, t), labels)


def classifier_free_guidance(
    denoiser: nn.Module, scheduler: NoiseProcess, null_label: int, scale: float
) -> GuidanceFn:
    """out <- out_uncond + s (out_cond - out_uncond) (Ho & Salimans 2022), where
    out_uncond is the denoiser's output with every label set to `null_label`."""

    def guide(out: Tensor, x: Tensor, t: Tensor) -> Tensor:
        uncond = denoiser(*scheduler.model_input(x, t), torch.full((t.shape[0],), null_label, device=t.device))
        return uncond + scale * (out - uncond)

    return guide


@torch.inference_mode()
def generate(
    denoiser: nn.Module,
    scheduler: NoiseProcess,
    sampler: Sampler,
    num: int,
    shape: tuple[int, int, int],
    *,
    device: torch.device,
    seed: int = 0,
    batch_size: int = 64,
    steps: int | None = None,
    class_label: int | None = None,
    guidance_scale: float = 1.0,
) -> Tensor:
    """Draw `num` images (num, C, H, W) in [-1, 1] on the CPU; at most `batch_size`
    images' intermediates exist at once. Batch i uses a generator seeded seed + i."""
    num_classes = int(getattr(denoiser, "num_classes", 0))
    if class_label is not None and not 0 <= class_label < max(num_classes, 1):
        raise ConfigError(
            f"--class {class_label} is not available: the model was trained with "
            f"{num_classes or 'no'} classes" + (f" (0..{num_classes - 1})" if num_classes else "")
        )
    if class_label is not None and not num_classes:
        raise ConfigError("--class needs a model trained with train.conditional=true on labelled data")
    if class_label is None and guidance_scale != 1.0:
        raise ConfigError(f"--guidance {guidance_scale} needs --class: guidance steers towards a class label")
    was_training = denoiser.training
    denoiser.eval()
    out = []
    try:
        for i, start in enumerate(range(0, num, batch_size)):
            n = min(batch_size, num - start)
            g = torch.Generator(device=device).manual_seed(seed + i)
            noise = torch.randn((n, *shape), generator=g, device=device)
            labels = None
            guidance = None
            if class_label is not None:
                labels = torch.full((n,), class_label, device=device, dtype=torch.long)
                if guidance_scale != 1.0:
                    guidance = classifier_free_guidance(denoiser, scheduler, num_classes, guidance_scale)
            x = sampler.sample(model_fn(denoiser, scheduler, labels), scheduler, noise, steps=steps, generator=g, guidance=guidance)
            out.append(x.float().cpu())
    finally:
        denoiser.train(was_training)
    return torch.cat(out)


def forward_process(scheduler: NoiseProcess, x0: Tensor, n: int = 10, seed: int = 0) -> tuple[Tensor, Tensor]:
    """One image noised by q(x_t | x_0) at n evenly spaced t, with the same noise.

    x0: (1, C, H, W) -> t: (n,) (long on a discrete chain), x_t: (n, C, H, W) in model range.
    """
    t = scheduler.evenly_spaced_t(n, x0.device)
    g = torch.Generator(device=x0.device).manual_seed(seed)
    noise = torch.randn(x0.shape, generator=g, device=x0.device).expand(n, *x0.shape[1:])
    return t, scheduler.add_noise(x0.expand(n, *x0.shape[1:]), noise, t)


def to_uint8_hwc(images: Tensor) -> np.ndarray:
    """(N, C, H, W) in [-1, 1] -> (N, H, W, C) uint8."""
    return to_unit_range(images).mul(255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()


def save_images(images: Tensor, path: Path) -> Path:
    """Write a grid (``.png``) or an ``arr_0`` uint8 (N, H, W, C) array (``.npz``), atomically."""
    import torchvision.utils

    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".png", ".npz"):
        raise ConfigError(f"--out {path}: use a .png (grid) or .npz (array) file name")
    with atomic_path(path) as tmp:
        if suffix == ".png":
            nrow = max(1, math.ceil(math.sqrt(images.shape[0])))
            torchvision.utils.save_image(to_unit_range(images), tmp, nrow=nrow, padding=1, format="png")
        else:
            with open(tmp, "wb") as f:
                np.savez(f, arr_0=to_uint8_hwc(images))
    return path
