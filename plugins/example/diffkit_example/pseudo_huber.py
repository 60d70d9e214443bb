"""The pseudo-Huber loss of improved consistency training (Song & Dhariwal 2023, eq. 9)."""

from __future__ import annotations

import torch
from torch import Tensor

from diffkit import ConfigError, Loss, Scheduler


class PseudoHuberLoss(Loss):
    """L = mean(sqrt((output - target)^2 + c^2) - c) over batch and pixels.

    Quadratic (d^2 / 2c) for |d| << c, linear (|d| - c) for |d| >> c.

    Args:
        c: the transition scale, > 0.
    """

    def __init__(self, c: float = 0.1) -> None:
        super().__init__()
        if not c > 0:
            raise ConfigError(f"loss.c={c!r} must be > 0")
        self.c = float(c)

    def forward(self, output: Tensor, target: Tensor, t: Tensor, scheduler: Scheduler) -> Tensor:
        return (torch.sqrt((output - target) ** 2 + self.c**2) - self.c).mean()
