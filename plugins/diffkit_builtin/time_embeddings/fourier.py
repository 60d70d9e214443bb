"""Random Fourier features of the timestep (Tancik et al. 2020; Song et al. 2021, score SDE)."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from diffkit.errors import ConfigError
from diffkit.interfaces import TimeEmbedding


class FourierEmbedding(TimeEmbedding):
    """emb(t) = [sin(2 pi s W), cos(2 pi s W)], s = t / T, W ~ N(0, scale^2 I) of size dim / 2.

    W is drawn once from a generator seeded with `seed` and kept as a (saved) buffer,
    so a checkpoint restores the same features. t: (B,) -> (B, dim).

    Args:
        dim: even, >= 2.
        scale: standard deviation of the frequencies (16 in score SDE).
        seed: seed of the frequency draw.
    """

    def __init__(self, dim: int = 32, num_timesteps: int = 1000, scale: float = 16.0, seed: int = 0) -> None:
        if isinstance(dim, bool) or not isinstance(dim, int) or dim < 2 or dim % 2:
            raise ConfigError(f"time_embedding.dim={dim!r} must be an even integer >= 2")
        if isinstance(scale, bool) or not isinstance(scale, (int, float)) or scale <= 0:
            raise ConfigError(f"time_embedding.scale={scale!r} must be a number > 0")
        super().__init__(dim, num_timesteps)
        g = torch.Generator().manual_seed(int(seed))
        self.register_buffer("W", torch.randn(dim // 2, generator=g) * float(scale))

    def forward(self, t: Tensor) -> Tensor:
        args = (2 * math.pi / self.num_timesteps) * t.float()[:, None] * self.W[None, :]
        return torch.cat([args.sin(), args.cos()], dim=-1)
