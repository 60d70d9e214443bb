"""What a run shows of its data and samples: grids of images, scatter plots of points.

The training loop asks a `Pictures` built from its data for the forward-process
strip and the sample pictures (both (N, 3 or C, H, W) in [0, 1], what ``diffkit_images``
receives) and for the file under ``samples/``; the kind of data decides how they look.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from diffkit.atomic import atomic_path
from diffkit.interfaces import ImageData, NoiseProcess, PointData
from diffkit.runner.data import to_unit_range, values
from diffkit.runner.sample import forward_process, save_images

#: side in pixels of a scatter plot, and the most points drawn of the reference data.
SIDE = 320
REFERENCE_POINTS = 2000
#: points of the forward-process strip, and its panels.
STRIP_POINTS = 500
STRIP_PANELS = 10
MARGIN = 28  # pixels around the plot area, for the tick labels


def bounds(points: Tensor, pad: float = 0.1) -> tuple[float, float]:
    """A square view [lo, hi]^2 holding the first two coordinates of `points` (N, D), plus `pad` of its side."""
    xy = first_two(points).double()
    lo, hi = float(xy.min()), float(xy.max())
    centre, half = (lo + hi) / 2, max(hi - lo, 1e-6) * (0.5 + pad)
    return centre - half, centre + half


def first_two(points: Tensor) -> Tensor:
    """(N, D) -> (N, 2): the first two coordinates (a 1-D point gets y = 0)."""
    return points[:, :2] if points.shape[1] >= 2 else torch.cat([points, torch.zeros_like(points)], 1)


def scatter(
    layers: list[tuple[Tensor, tuple[int, int, int]]], view: tuple[float, float], label: str = "", side: int = SIDE
) -> Tensor:
    """Draw point sets (N, D) in the given RGB colours, in order, on a white square of `side`
    pixels showing [lo, hi]^2 with its ends written on the axes -> (3, side, side) in [0, 1].
    Points outside the view are not drawn; `label` is written at the top (e.g. their count)."""
    from PIL import Image, ImageDraw

    canvas = Image.new("RGB", (side, side), "white")
    draw = ImageDraw.Draw(canvas)
    lo, hi = view
    inner = side - 2 * MARGIN
    draw.rectangle([MARGIN - 1, MARGIN - 1, side - MARGIN, side - MARGIN], outline=(90, 90, 90))
    for points, colour in layers:
        xy = (first_two(points.detach().float().cpu()).double().numpy() - lo) / (hi - lo)
        keep = np.all((xy >= 0) & (xy <= 1), axis=1)
        px = MARGIN + xy[keep, 0] * inner
        py = side - MARGIN - xy[keep, 1] * inner  # y grows upwards
        for x, y in zip(px, py):
            draw.rectangle([x - 1, y - 1, x + 1, y + 1], fill=colour)
    for text, where in (
        (f"{lo:.3g}", (MARGIN, side - MARGIN + 4)),
        (f"{hi:.3g}", (side - MARGIN - 24, side - MARGIN + 4)),
        (f"{hi:.3g}", (2, MARGIN - 4)),
        (label, (MARGIN, 6)),
    ):
        draw.text(where, text, fill="black")
    return torch.from_numpy(np.asarray(canvas).copy()).permute(2, 0, 1).float() / 255


GREY, BLUE = (190, 190, 190), (31, 90, 180)


class Pictures:
    """How a run shows its data: images as themselves, points as scatter plots drawn over
    (up to `REFERENCE_POINTS` of) the training data in grey, in the data's view."""

    def __init__(self, data: ImageData | PointData) -> None:
        self.kind = data.kind
        if self.kind == "points":
            self.reference = values(data)[:REFERENCE_POINTS].float().cpu()
            self.view = bounds(self.reference)

    def forward_strip(self, scheduler: NoiseProcess, x: Tensor) -> Tensor:
        """The forward process q(x_t | x_0) at the strip's evenly spaced t, the same noise for every t.

        x: a training batch in model range. Images: the first image's frames (n, C, H, W);
        points: up to STRIP_POINTS of the batch as n scatter panels (n, 3, S, S), each in a
        view that holds its points. Both in [0, 1] on the CPU."""
        if self.kind != "points":
            return to_unit_range(forward_process(scheduler, x[:1], n=STRIP_PANELS)[1]).cpu()
        x0 = x[:STRIP_POINTS]
        g = torch.Generator(device=x0.device).manual_seed(0)
        noise = torch.randn(x0.shape, generator=g, device=x0.device)
        panels = []
        for t in scheduler.evenly_spaced_t(STRIP_PANELS, x0.device):
            x_t = scheduler.add_noise(x0, noise, t.repeat(x0.shape[0])).cpu()
            panels.append(scatter([(x_t, BLUE)], bounds(x_t), side=SIDE // 2 + MARGIN))
        return torch.stack(panels)

    def shown(self, samples: Tensor) -> Tensor:
        """Samples in model range -> what trackers receive: images (N, C, H, W), or one
        scatter plot (1, 3, S, S) of the points over the training data; in [0, 1]."""
        if self.kind != "points":
            return to_unit_range(samples)
        lo, hi = self.view
        xy = first_two(samples.float())
        outside = int((~((xy >= lo) & (xy <= hi)).all(1)).sum())
        label = f"{samples.shape[0]} samples" + (f", {outside} outside the view" if outside else "")
        return scatter([(self.reference, GREY), (samples, BLUE)], self.view, label)[None]

    def save(self, samples: Tensor, path: Path) -> Path:
        """Write the sample grid, or for points the scatter plot, as a ``.png`` at `path`."""
        if self.kind != "points":
            return save_images(samples, path)
        from PIL import Image

        picture = self.shown(samples)[0].mul(255).round().to(torch.uint8).permute(1, 2, 0).numpy()
        with atomic_path(Path(path)) as tmp:
            Image.fromarray(picture).save(tmp, format="png")
        return Path(path)


def sample_shape(state: dict, image_size: int) -> tuple[int, ...]:
    """The shape of one sample of a checkpoint's run: its ``sample_shape`` (points: (D,)),
    else (in_channels, image_size, image_size) (checkpoints written before points existed)."""
    if state.get("sample_shape"):
        return tuple(int(v) for v in state["sample_shape"])
    return int(state["in_channels"]), image_size, image_size


def save_points(points: Tensor, path: Path, reference: Callable[[], ImageData | PointData]) -> Path:
    """Write generated points (N, D): ``.npz`` as an ``arr_0`` float32 (N, D) array, ``.png``
    as the scatter plot over the training data (`reference` loads it), atomically."""
    path = Path(path)
    if path.suffix.lower() == ".png":
        return Pictures(reference()).save(points, path)
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez(f, arr_0=points.float().numpy())
    return path
