"""Generating images with a trained denoiser, in bounded batches."""

from __future__ import annotations

import math
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from diffkit.atomic import atomic_path
from diffkit.errors import ConfigError
from diffkit.interfaces import GuidanceFn, ModelFn, NoiseProcess, Sampler
from diffkit.runner.data import to_model_range, to_unit_range
from diffkit.runner.progress import bar


def model_fn(denoiser: nn.Module, scheduler: NoiseProcess, labels: Tensor | None = None) -> ModelFn:
    """``model(x_t, t) = denoiser(*scheduler.model_input(x_t, t), labels)``: the process's input
    scaling and time map bound, with labels (B,) or None."""
    return lambda x, t: denoiser(*scheduler.model_input(x, t), labels)


def classifier_free_guidance(denoiser: nn.Module, scheduler: NoiseProcess, null_label: int, scale: float) -> GuidanceFn:
    """out <- out_uncond + s (out_cond - out_uncond) (Ho & Salimans 2022), where
    out_uncond is the denoiser's output with every label set to `null_label`."""

    def guide(out: Tensor, x: Tensor, t: Tensor) -> Tensor:
        uncond = denoiser(*scheduler.model_input(x, t), torch.full((t.shape[0],), null_label, device=t.device))
        return uncond + scale * (out - uncond)

    return guide


def generate(
    denoiser: nn.Module, scheduler: NoiseProcess, sampler: Sampler, num: int, shape: tuple[int, ...], **kwargs: Any
) -> Tensor:
    """Draw `num` images (num, C, H, W) in [-1, 1] (or points (num, D)) on the CPU (`generate_batches`,
    concatenated); `shape` is one sample's, (C, H, W) or (D,)."""
    return torch.cat(list(generate_batches(denoiser, scheduler, sampler, num, shape, **kwargs)))


def generate_batches(
    denoiser: nn.Module,
    scheduler: NoiseProcess,
    sampler: Sampler,
    num: int,
    shape: tuple[int, ...],
    *,
    device: torch.device,
    seed: int = 0,
    batch_size: int = 64,
    steps: int | None = None,
    class_label: int | None = None,
    guidance_scale: float = 1.0,
    progress: str | None = None,
) -> Iterator[Tensor]:
    """Yield `num` images in batches (n <= batch_size, C, H, W) in [-1, 1] on the CPU;
    at most `batch_size` images' intermediates exist at once. Batch i uses a generator
    seeded seed + i. `progress`: the label of a progress bar over the images (on a
    terminal), or None."""
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
    shown = bar(num, progress or "", unit="img", enabled=progress is not None)
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
            with torch.inference_mode():
                x = sampler.sample(
                    model_fn(denoiser, scheduler, labels), scheduler, noise, steps=steps, generator=g, guidance=guidance
                )
            shown.update(n)
            yield x.float().cpu()
    finally:
        shown.close()
        denoiser.train(was_training)


def forward_timesteps(num_timesteps: int, n: int = 10) -> Tensor:
    """The n evenly spaced t of the forward-process figure: round(linspace(0, T - 1, n)), (n,) long."""
    return torch.linspace(0, num_timesteps - 1, n).round().long()


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


def as_saved(images: Tensor) -> Tensor:
    """(N, C, H, W) float -> the images an ``.npz`` from `save_images` holds, read
    back as `load_npz` does: clamped to [-1, 1] and quantised to 256 levels.
    Metrics score these, so an evaluation measures exactly what a user would save."""
    return to_model_range(torch.from_numpy(to_uint8_hwc(images)).permute(0, 3, 1, 2))


def load_npz(path: Path) -> Tensor:
    """An ``arr_0`` uint8 (N, H, W, C) array, as ``diffkit sample --out x.npz`` writes,
    -> (N, C, H, W) float in [-1, 1]."""
    with np.load(Path(path)) as f:
        if "arr_0" not in f or f["arr_0"].dtype != np.uint8 or f["arr_0"].ndim != 4:
            raise ConfigError(f"{path}: expected arr_0, a uint8 (N, H, W, C) array")
        return to_model_range(torch.from_numpy(f["arr_0"]).permute(0, 3, 1, 2).contiguous())


def save_npz_stream(batches: Iterable[Tensor], path: Path, num: int, shape: tuple[int, int, int]) -> Path:
    """Write `num` images of `shape` (C, H, W), arriving in batches, as the ``arr_0``
    uint8 (N, H, W, C) array of an ``.npz`` (what ``np.load`` reads), atomically; only
    one batch is in memory: the zip member ``arr_0.npy`` is its header, then the rows."""
    c, h, w = shape
    header = {
        "descr": np.lib.format.dtype_to_descr(np.dtype(np.uint8)),
        "fortran_order": False,
        "shape": (num, h, w, c),
    }
    written = 0
    with atomic_path(Path(path)) as tmp, zipfile.ZipFile(tmp, "w", allowZip64=True) as archive:
        with archive.open("arr_0.npy", "w", force_zip64=True) as f:
            np.lib.format.write_array_header_2_0(f, header)
            for images in batches:
                f.write(to_uint8_hwc(images).tobytes())
                written += images.shape[0]
        if written != num:
            raise RuntimeError(f"wrote {written} images, expected {num}")  # an internal invariant
    return Path(path)


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
