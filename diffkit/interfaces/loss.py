"""The training objective."""

from __future__ import annotations

from abc import ABC, abstractmethod

from torch import Tensor, nn

from diffkit.interfaces.process import NoiseProcess


class Loss(nn.Module, ABC):
    """A scalar objective between the model output and the target of the scheduler's
    prediction type (eps, x0 or v). Timesteps and the scheduler are passed so that
    weightings such as min-SNR need no globals.

    A subclass implements ``forward``; its constructor parameters (each with a
    default) are the config keys of ``loss``. Nothing is injected.
    """

    @abstractmethod
    def forward(self, output: Tensor, target: Tensor, t: Tensor, scheduler: NoiseProcess) -> Tensor:
        """The loss of one batch: () mean over batch and pixels.

        Args:
            output: the denoiser's output, (B, C, H, W), float32.
            target: ``scheduler.target(x0, noise, t)``: eps, x0, v, velocity or F, (B, C, H, W).
            t: (B,) times of the batch (long on a discrete chain, float on a continuous process).
            scheduler: the run's scheduler (``scheduler.snr(t)`` for SNR weightings).
        """
