"""Mean squared error, the "simple" loss of Ho et al. 2020 (eq. 14)."""

from __future__ import annotations

from torch import Tensor

from .weighting import WeightedLoss


class L2Loss(WeightedLoss):
    """penalty = (output - target)^2; L = its mean over batch and pixels (see WeightedLoss)."""

    squared_error = True

    def penalty(self, output: Tensor, target: Tensor) -> Tensor:
        return (output - target).square()
