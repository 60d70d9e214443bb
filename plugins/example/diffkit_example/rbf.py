"""Gaussian radial-basis features of the timestep: a smooth one-hot of t / (T - 1)."""

from __future__ import annotations

import torch
from torch import Tensor

from diffkit import ConfigError, TimeEmbedding


class RBFEmbedding(TimeEmbedding):
    """emb_i(t) = exp(-(s - c_i)^2 / (2 w^2)), s = t / (T - 1), c_i = i / (dim - 1), w = width / (dim - 1).

    t: (B,) -> (B, dim), values in (0, 1]; emb_i = 1 where t sits on centre i.

    Args:
        dim: number of centres, >= 2.
        width: the Gaussians' standard deviation in units of the centre spacing, > 0.
    """

    def __init__(self, dim: int = 32, num_timesteps: int = 1000, width: float = 1.0) -> None:
        if isinstance(dim, bool) or not isinstance(dim, int) or dim < 2:
            raise ConfigError(f"time_embedding.dim={dim!r} must be an integer >= 2")
        if not width > 0:
            raise ConfigError(f"time_embedding.width={width!r} must be > 0")
        super().__init__(dim, num_timesteps)
        self.register_buffer("centres", torch.linspace(0, 1, dim), persistent=False)
        self.sigma = float(width) / (dim - 1)

    def forward(self, t: Tensor) -> Tensor:
        s = t.float()[:, None] / max(self.num_timesteps - 1, 1)
        return torch.exp(-((s - self.centres[None, :]) ** 2) / (2 * self.sigma**2))
