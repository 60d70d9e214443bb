"""Sample-quality measures."""

from __future__ import annotations

from abc import ABC, abstractmethod

from torch import Tensor


class Metric(ABC):
    """Compares generated images with real ones.

    ``compute`` takes real and fake images (N, C, H, W) float in [-1, 1] and returns
    named values, e.g. {"fid": 12.3}.
    """

    @abstractmethod
    def compute(self, real: Tensor, fake: Tensor) -> dict[str, float]:
        """real: (N, C, H, W), fake: (M, C, H, W) in [-1, 1] -> {name: value}."""
