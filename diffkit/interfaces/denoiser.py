"""The network that predicts noise (or x_0, or v) from a noisy image."""

from __future__ import annotations

from abc import ABC, abstractmethod

from torch import Tensor, nn

from diffkit.interfaces.time_embedding import TimeEmbedding


class Denoiser(nn.Module, ABC):
    """f(x_t, t[, y]) -> prediction with the shape of x_t.

    The runner injects ``in_channels`` (from the data), ``time_embedding`` (a built
    `TimeEmbedding`) and ``num_classes`` (0 when the data is unlabelled or
    conditioning is off); everything else comes from the config node.
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
