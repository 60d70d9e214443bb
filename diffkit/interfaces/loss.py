"""The training objective."""

from __future__ import annotations

from abc import ABC, abstractmethod

from torch import Tensor, nn

from diffkit.interfaces.scheduler import Scheduler


class Loss(nn.Module, ABC):
    """A scalar objective between the model output and the target of the scheduler's
    prediction type (eps, x0 or v). Timesteps and the scheduler are passed so that
    weightings such as min-SNR need no globals.

    A subclass implements ``forward``; its constructor parameters (each with a
    default) are the config keys of ``loss``. Nothing is injected.
    """

    @abstractmethod
    def forward(self, output: Tensor, target: Tensor, t: Tensor, scheduler: Scheduler) -> Tensor:
        """The loss of one batch: () mean over batch and pixels.

        Args:
            output: the denoiser's output, (B, C, H, W), float32.
            target: ``scheduler.target(x0, noise, t)``: eps, x0 or v, (B, C, H, W).
            t: (B,) long timesteps of the batch.
            scheduler: the run's scheduler (``scheduler.snr(t)`` for SNR weightings).
        """
