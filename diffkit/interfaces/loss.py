"""The training objective."""

from __future__ import annotations

from abc import ABC, abstractmethod

from torch import Tensor, nn

from diffkit.interfaces.process import NoiseProcess


class Loss(nn.Module, ABC):
    """A scalar objective between the model output and the target of the scheduler's
    prediction type (eps, x0 or v). Timesteps and the scheduler are passed so that
    weightings such as min-SNR need no globals."""

    @abstractmethod
    def forward(self, output: Tensor, target: Tensor, t: Tensor, scheduler: NoiseProcess) -> Tensor:
        """output, target: (B, C, H, W); t: (B,) long -> () mean over batch and pixels."""
