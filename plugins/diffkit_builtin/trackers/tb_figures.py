"""Images and text the TensorBoard tracker shows: sample grids scaled up to a visible
size, forward-process frames labelled with t, and a run's summary as markdown."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

#: small images are scaled up (nearest neighbour, by a whole factor) to at least this side.
MIN_SIDE = 64
LABEL_HEIGHT = 12


def upscale(images: Tensor, min_side: int = MIN_SIDE) -> Tensor:
    """(N, C, H, W) -> (N, C, kH, kW) with k = ceil(min_side / max(H, W)), pixels as blocks."""
    k = max(1, math.ceil(min_side / max(images.shape[-2:])))
    return F.interpolate(images, scale_factor=k, mode="nearest") if k > 1 else images


def grid(images: Tensor, nrow: int) -> Tensor:
    """(N, C, H, W) in [0, 1] -> one (C', H', W') grid of the upscaled images."""
    import torchvision.utils

    return torchvision.utils.make_grid(upscale(images), nrow=nrow, padding=2, pad_value=1.0)


def labelled_frames(images: Tensor, labels: list[str], per_row: int = 5) -> Tensor:
    """(N, C, H, W) frames in [0, 1] -> (3, H', W') rows of `per_row` upscaled frames, each
    with its label under it (narrow enough for a TensorBoard image card)."""
    from PIL import Image, ImageDraw

    frames = upscale(images)
    if frames.shape[1] == 1:
        frames = frames.expand(-1, 3, -1, -1)
    n, _, h, w = frames.shape
    cols, rows, pad = min(n, per_row), math.ceil(n / per_row), 2
    cell_w, cell_h = w + pad, h + LABEL_HEIGHT + pad
    canvas = Image.new("RGB", (cols * cell_w + pad, rows * cell_h + pad), "white")
    draw = ImageDraw.Draw(canvas)
    pixels = frames.clamp(0, 1).mul(255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
    for i, (frame, label) in enumerate(zip(pixels, labels)):
        x, y = pad + (i % per_row) * cell_w, pad + (i // per_row) * cell_h
        canvas.paste(Image.fromarray(frame), (x, y))
        draw.text((x + 1, y + h), label, fill="black")
    return torch.from_numpy(np.asarray(canvas).copy()).permute(2, 0, 1).float() / 255


def markdown_table(rows: dict[str, Any], header: tuple[str, str] = ("key", "value")) -> str:
    """``{"loss.name": "l1"}`` -> a two-column markdown table."""
    lines = [f"| {header[0]} | {header[1]} |", "|---|---|"]
    lines += [f"| {k} | {_text(v)} |" for k, v in rows.items()]
    return "\n".join(lines)


def _text(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value).replace("|", "\\|")
