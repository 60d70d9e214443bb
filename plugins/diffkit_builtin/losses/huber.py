"""Huber loss: quadratic near zero, linear in the tails."""

from __future__ import annotations

from typing import Any

import torch.nn.functional as F
from torch import Tensor

from diffkit.errors import ConfigError

from .weighting import WeightedLoss


class HuberLoss(WeightedLoss):
    """penalty(r) = r^2 / 2 if |r| <= delta else delta (|r| - delta / 2), r = output - target.

    Args:
        delta: where the quadratic turns linear (> 0).
    """

    def __init__(self, delta: float = 1.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if isinstance(delta, bool) or not isinstance(delta, (int, float)) or delta <= 0:
            raise ConfigError(f"loss.delta={delta!r} is not allowed; use a number > 0")
        self.delta = float(delta)

    def penalty(self, output: Tensor, target: Tensor) -> Tensor:
        return F.huber_loss(output, target, reduction="none", delta=self.delta)
