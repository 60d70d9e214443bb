"""Training data held in memory as tensors, batched deterministically by step.

Images (`ImageData`, uint8) are resized to ``data.image_size`` and scaled to
[-1, 1] per batch; points (`PointData`, float) are used as they are."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from diffkit.errors import DataError
from diffkit.interfaces import ImageData, PointData
from diffkit.runner.resources import check_memory


def fit_size(data: ImageData, size: int) -> ImageData:
    """Resize uint8 images (N, C, H, W) to (N, C, size, size) with antialiased bilinear."""
    images = data.images
    if images.ndim != 4 or images.dtype != torch.uint8:
        raise DataError(f"a dataset must return uint8 images (N, C, H, W), got {images.dtype} {tuple(images.shape)}")
    if images.shape[0] == 0:
        raise DataError("the dataset is empty")
    if images.shape[-2:] != (size, size):
        n, c = images.shape[:2]
        check_memory(
            f"data.image_size={size}: holding the {n} images at {size}x{size}",
            n * c * size * size + min(n, 4096) * c * size * size * 4,
            hint="lower data.image_size",
        )
        chunks = []
        for chunk in images.split(4096):
            out = F.interpolate(chunk.float(), size=(size, size), mode="bilinear", antialias=True, align_corners=False)
            chunks.append(out.round().clamp(0, 255).to(torch.uint8))
        images = torch.cat(chunks)
    return ImageData(images, data.labels, data.num_classes)


def fit_data(data: ImageData | PointData, size: int) -> ImageData | PointData:
    """Images: `fit_size`; points: checked to be (N, D) float with N >= 1 and finite."""
    if not isinstance(data, PointData):
        return fit_size(data, size)
    points = data.points
    if points.ndim != 2 or not points.is_floating_point() or points.shape[0] == 0:
        raise DataError(
            f"a point dataset must return float points (N, D), N >= 1, got {points.dtype} {tuple(points.shape)}"
        )
    if not bool(torch.isfinite(points).all()):
        raise DataError("the point dataset holds non-finite values")
    return data


def values(data: ImageData | PointData) -> Tensor:
    """The tensor of a split: images (N, C, H, W) uint8 or points (N, D) float."""
    return data.points if isinstance(data, PointData) else data.images


def to_model_range(images: Tensor) -> Tensor:
    """uint8 [0, 255] -> float [-1, 1]."""
    return images.float().div(127.5).sub(1.0)


def to_unit_range(images: Tensor) -> Tensor:
    """float [-1, 1] -> float [0, 1], clamped."""
    return images.add(1.0).div(2.0).clamp(0.0, 1.0)


class Batches:
    """Batch `step` of an endless sequence of per-epoch shuffles, a pure function of
    (seed, step): resuming at any step reproduces the data order exactly.

    Each step draws ``batch_size * world_size`` indices; rank r takes its slice.
    Images stay uint8 on `device` and are scaled per batch; points are used as they are.
    """

    def __init__(
        self,
        data: ImageData | PointData,
        batch_size: int,
        seed: int,
        device: torch.device,
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        self.images = values(data).to(device)
        self.scale = to_model_range if data.kind == "images" else (lambda x: x)
        self.labels = data.labels.to(device) if data.labels is not None else None
        self.n = self.images.shape[0]
        self.batch_size, self.seed = batch_size, seed
        self.rank, self.world_size = rank, world_size
        self.global_batch = batch_size * world_size
        self._epoch, self._perm = -1, torch.empty(0, dtype=torch.long)

    def _permutation(self, epoch: int) -> Tensor:
        """Epoch `epoch`'s shuffle (drawn on the CPU for reproducibility), copied to the
        device once per epoch."""
        if epoch != self._epoch:
            g = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
            self._epoch, self._perm = epoch, torch.randperm(self.n, generator=g).to(self.images.device)
        return self._perm

    def indices(self, step: int) -> Tensor:
        """The dataset indices of this rank's part of batch `step`: (B,) long on the device.

        Slices of the epochs' permutations located with Python ints, so a step makes
        no host-to-device copy (a pageable copy would make CUDA wait for the stream)."""
        pos = step * self.global_batch + self.rank * self.batch_size
        end, parts = pos + self.batch_size, []
        while pos < end:
            epoch, offset = divmod(pos, self.n)
            take = min(self.n - offset, end - pos)
            parts.append(self._permutation(epoch)[offset : offset + take])
            pos += take
        return parts[0] if len(parts) == 1 else torch.cat(parts)

    def __call__(self, step: int) -> tuple[Tensor, Tensor | None]:
        """x: (B, C, H, W) float in [-1, 1] (or points (B, D)) and y: (B,) long or None, on the device."""
        idx = self.indices(step)
        x = self.scale(self.images.index_select(0, idx))
        y = self.labels.index_select(0, idx) if self.labels is not None else None
        return x, y
