"""Mean absolute error, the seed's loss."""

from __future__ import annotations

from torch import Tensor

from .weighting import WeightedLoss


class L1Loss(WeightedLoss):
    """penalty = |output - target|; L = its mean over batch and pixels (see WeightedLoss)."""

    def penalty(self, output: Tensor, target: Tensor) -> Tensor:
        return (output - target).abs()
