"""Where training data come from: images (N, C, H, W) or points (N, D)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar

from torch import Tensor


@dataclass
class ImageData:
    """A whole split held in memory.

    images: (N, C, H, W) uint8 in [0, 255]; labels: (N,) long or None.
    """

    images: Tensor
    labels: Tensor | None
    num_classes: int = 0
    #: what one sample is: ``images`` here, ``points`` for `PointData`.
    kind: ClassVar[str] = "images"

    @property
    def sample_shape(self) -> tuple[int, ...]:
        """The shape of one sample: (C, H, W)."""
        return tuple(self.images.shape[1:])


@dataclass
class PointData:
    """A whole split of points held in memory, used as given (no resizing, no rescaling).

    points: (N, D) float32 in the model's units; labels: (N,) long or None.
    """

    points: Tensor
    labels: Tensor | None = None
    num_classes: int = 0
    kind: ClassVar[str] = "points"

    @property
    def sample_shape(self) -> tuple[int, ...]:
        """The shape of one sample: (D,)."""
        return tuple(self.points.shape[1:])


class Dataset(ABC):
    """Loads one split of a dataset into memory.

    A subclass implements ``load``; its constructor parameters (each with a
    default) are the keys of ``data`` besides ``batch_size``, ``image_size`` and
    ``num_workers``; a constructor that accepts ``image_size`` gets
    ``data.image_size`` (the runner resizes whatever ``load`` returns).

    Args:
        root: directory holding the files (None: the dataset's default location).
        download: allow fetching over the network where the dataset supports it.
    """

    #: constructor arguments the runner passes when the constructor accepts them
    #: (``image_size``: ``data.image_size``, e.g. to generate data at that size).
    optional_injected = ("image_size",)

    def __init__(self, root: str | None = None, download: bool = False) -> None:
        self.root = root
        self.download = download

    @abstractmethod
    def load(self, split: str = "train") -> ImageData | PointData:
        """Return the split ("train" or "test"); raise DataError naming the path tried."""
