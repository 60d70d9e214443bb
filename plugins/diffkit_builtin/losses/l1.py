"""Mean absolute error, the seed's loss."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from diffkit.interfaces import Loss, Scheduler


class L1Loss(Loss):
    """L = mean |output - target| over batch and pixels."""

    def forward(self, output: Tensor, target: Tensor, t: Tensor, scheduler: Scheduler) -> Tensor:
        return F.l1_loss(output, target)
