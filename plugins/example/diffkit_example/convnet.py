"""A small residual conv net that keeps the full resolution (no U-Net down-sampling)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from diffkit import ConfigError, Denoiser, TimeEmbedding


class ResBlock(nn.Module):
    """h = x + conv2(SiLU(GN(conv1(SiLU(GN(x)))) + Linear(t_emb))); x: (B, W, H, W'), t_emb: (B, E)."""

    def __init__(self, width: int, emb_dim: int) -> None:
        super().__init__()
        self.norm1, self.norm2 = nn.GroupNorm(min(8, width), width), nn.GroupNorm(min(8, width), width)
        self.conv1 = nn.Conv2d(width, width, 3, padding=1)
        self.conv2 = nn.Conv2d(width, width, 3, padding=1)
        self.emb = nn.Linear(emb_dim, width)
        self.act = nn.SiLU()

    def forward(self, x: Tensor, t_emb: Tensor) -> Tensor:
        h = self.conv1(self.act(self.norm1(x))) + self.emb(t_emb)[:, :, None, None]
        return x + self.conv2(self.act(self.norm2(h)))


class ConvNet(Denoiser):
    """conv_in -> `depth` residual blocks (time and label features added) -> conv_out.

    x: (B, C, H, W), t: (B,), y: (B,) or None -> (B, C, H, W); any H and W. Label
    ``num_classes`` means "no label" (classifier-free guidance).

    Args:
        width: channels of every block; depth: number of residual blocks.
    """

    def __init__(
        self, in_channels: int, time_embedding: TimeEmbedding, num_classes: int = 0, width: int = 32, depth: int = 2
    ) -> None:
        super().__init__(in_channels, time_embedding, num_classes)
        for key, value in (("width", width), ("depth", depth)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"denoiser.{key}={value!r} must be an integer >= 1")
        dim = time_embedding.dim
        self.time_mlp = nn.Sequential(nn.Linear(dim, dim), nn.SiLU())
        self.label_emb = nn.Embedding(num_classes + 1, dim) if num_classes else None
        self.conv_in = nn.Conv2d(in_channels, width, 3, padding=1)
        self.blocks = nn.ModuleList(ResBlock(width, dim) for _ in range(depth))
        self.conv_out = nn.Conv2d(width, in_channels, 3, padding=1)

    def forward(self, x: Tensor, t: Tensor, y: Tensor | None = None) -> Tensor:
        t_emb = self.time_embedding(t)
        if self.label_emb is not None:
            t_emb = t_emb + self.label_emb(torch.full_like(t, self.num_classes) if y is None else y)
        t_emb = self.time_mlp(t_emb)
        h = self.conv_in(x)
        for block in self.blocks:
            h = block(h, t_emb)
        return self.conv_out(h)
