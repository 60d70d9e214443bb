"""Transformer-style sinusoidal embeddings of the timestep (Vaswani et al. 2017)."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from diffkit.errors import ConfigError
from diffkit.interfaces import TimeEmbedding


class SinusoidalEmbedding(TimeEmbedding):
    """emb(t) = [sin(t w_0), ..., sin(t w_{h-1}), cos(t w_0), ..., cos(t w_{h-1})],
    w_i = 10000^(-i / (h - 1)), h = dim / 2.

    t: (B,) -> (B, dim). dim must be even and >= 4.
    """

    def __init__(self, dim: int = 32, num_timesteps: int = 1000) -> None:
        if isinstance(dim, bool) or not isinstance(dim, int) or dim < 4 or dim % 2:
            raise ConfigError(f"time_embedding.dim={dim!r} must be an even integer >= 4")
        super().__init__(dim, num_timesteps)
        half = dim // 2
        freqs = torch.exp(torch.arange(half, dtype=torch.float32) * (-math.log(10000.0) / (half - 1)))
        self.register_buffer("freqs", freqs, persistent=False)

    def forward(self, t: Tensor) -> Tensor:
        args = t.float()[:, None] * self.freqs[None, :]
        return torch.cat([args.sin(), args.cos()], dim=-1)
