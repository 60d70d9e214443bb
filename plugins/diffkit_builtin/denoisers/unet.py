"""The seed's U-Net: plain conv blocks that add the time embedding after the first conv."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from diffkit.errors import ConfigError
from diffkit.interfaces import Denoiser, TimeEmbedding


def _norm(kind: str, channels: int) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    return nn.GroupNorm(min(32, channels // 4) or 1, channels)


class Block(nn.Module):
    """h = N1(ReLU(conv1(x))) + ReLU(Linear(t_emb)); h = N2(ReLU(conv2(h))); return resample(h).

    Down blocks halve H and W with a stride-2 4x4 conv; up blocks take the skip
    connection concatenated (2 * in_ch channels) and double H and W.
    x: (B, in_ch or 2 in_ch, H, W), t_emb: (B, E) -> (B, out_ch, H/2 or 2H, ...).
    """

    def __init__(self, in_ch: int, out_ch: int, time_emb_dim: int, up: bool = False, norm: str = "batch") -> None:
        super().__init__()
        self.time_mlp = nn.Linear(time_emb_dim, out_ch)
        self.conv1 = nn.Conv2d(2 * in_ch if up else in_ch, out_ch, 3, padding=1)
        self.transform = (nn.ConvTranspose2d if up else nn.Conv2d)(out_ch, out_ch, 4, 2, 1)
        self.conv2 = nn.Conv2d(out_ch, out_ch, 3, padding=1)
        self.norm1 = _norm(norm, out_ch)
        self.norm2 = _norm(norm, out_ch)
        self.relu = nn.ReLU()

    def forward(self, x: Tensor, t_emb: Tensor) -> Tensor:
        h = self.norm1(self.relu(self.conv1(x)))
        h = h + self.relu(self.time_mlp(t_emb))[:, :, None, None]
        h = self.norm2(self.relu(self.conv2(h)))
        return self.transform(h)


class SeedUNet(Denoiser):
    """The U-Net of the seed post (DeepFindr's SimpleUnet), sized by ``channels``.

    ``channels=[64, 128, 256, 512, 1024]`` with a 32-dim sinusoidal embedding is the
    seed's exact 62M-parameter network; len(channels) - 1 down/up blocks, so H and W
    must be divisible by 2 ** (len(channels) - 1). The time embedding goes through
    Linear + ReLU once, then each block adds its own ReLU(Linear(.)) projection.
    Labels (when num_classes > 0) are embedded and added to the time features;
    label ``num_classes`` is the "no label" used for classifier-free guidance.

    Args:
        channels: widths from the input resolution down to the bottleneck.
        norm: "batch" (the seed) or "group" (batch-independent, for DDP or tiny batches).
    """

    def __init__(
        self,
        in_channels: int,
        time_embedding: TimeEmbedding,
        num_classes: int = 0,
        channels: Sequence[int] = (64, 128, 256, 512, 1024),
        norm: str = "batch",
    ) -> None:
        super().__init__(in_channels, time_embedding, num_classes)
        channels = list(channels)
        if len(channels) < 2 or any(not isinstance(c, int) or c < 1 for c in channels):
            raise ConfigError(f"denoiser.channels={channels!r} must list at least two positive integers")
        if norm not in ("batch", "group"):
            raise ConfigError(f"denoiser.norm={norm!r} is not allowed; use batch or group")
        dim = time_embedding.dim
        self.channels = channels
        self.num_downsamplings = len(channels) - 1
        self.time_mlp = nn.Sequential(nn.Linear(dim, dim), nn.ReLU())
        self.label_emb = nn.Embedding(num_classes + 1, dim) if num_classes else None
        self.conv0 = nn.Conv2d(in_channels, channels[0], 3, padding=1)
        self.downs = nn.ModuleList(Block(a, b, dim, norm=norm) for a, b in zip(channels[:-1], channels[1:]))
        up = channels[::-1]
        self.ups = nn.ModuleList(Block(a, b, dim, up=True, norm=norm) for a, b in zip(up[:-1], up[1:]))
        self.output = nn.Conv2d(channels[0], in_channels, 1)

    def forward(self, x: Tensor, t: Tensor, y: Tensor | None = None) -> Tensor:
        t_emb = self.time_embedding(t)
        if self.label_emb is not None:
            if y is None:
                y = torch.full_like(t, self.num_classes)
            t_emb = t_emb + self.label_emb(y)
        t_emb = self.time_mlp(t_emb)
        h = self.conv0(x)
        skips = []
        for down in self.downs:
            h = down(h, t_emb)
            skips.append(h)
        for up in self.ups:
            h = up(torch.cat([h, skips.pop()], dim=1), t_emb)
        return self.output(h)
