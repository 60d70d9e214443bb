"""The network that predicts noise (or x_0, or v) from a noisy image."""

from __future__ import annotations

from abc import ABC, abstractmethod

from torch import Tensor, nn

from diffkit.interfaces.time_embedding import TimeEmbedding


class Denoiser(nn.Module, ABC):
    """f(x_t, t[, y]) -> prediction with the shape of x_t.

    A subclass implements ``forward`` and sets ``num_downsamplings`` if it
    halves the image size. Its constructor must accept the three arguments the
    runner injects and pass them to ``super().__init__``; its other parameters
    (each with a default) are the config keys of ``denoiser``.

    Args:
        in_channels: injected: the data's channel count C.
        time_embedding: injected: the built `TimeEmbedding`; its output has
            ``time_embedding.dim`` features.
        num_classes: injected: the number of class labels (0 when the data is
            unlabelled or ``train.conditional`` is off); label ``num_classes`` is
            the "no label" of classifier-free guidance.
    """

    #: constructor arguments the runner provides; never set in a config.
    injected = ("in_channels", "time_embedding", "num_classes")

    def __init__(self, in_channels: int, time_embedding: TimeEmbedding, num_classes: int = 0) -> None:
        super().__init__()
        self.in_channels = int(in_channels)
        self.time_embedding = time_embedding
        self.num_classes = int(num_classes)

    @abstractmethod
    def forward(self, x: Tensor, t: Tensor, y: Tensor | None = None) -> Tensor:
        """x: (B, C, H, W), t: (B,) long, y: (B,) long labels or None -> (B, C, H, W)."""

    #: how often the network halves H and W; sizes must be multiples of 2 ** this.
    num_downsamplings: int = 0

    def check_image_size(self, size: int) -> str | None:
        """Return why `size` (H = W) cannot be processed, or None when it can."""
        factor = 2**self.num_downsamplings
        if size % factor:
            return f"its {self.num_downsamplings} downsamplings need a multiple of {factor}"
        return None
