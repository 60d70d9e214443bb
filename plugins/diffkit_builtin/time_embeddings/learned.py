"""A learned table of timestep embeddings, one row per timestep."""

from __future__ import annotations

from torch import Tensor, nn

from diffkit.errors import ConfigError
from diffkit.interfaces import TimeEmbedding


class LearnedEmbedding(TimeEmbedding):
    """emb(t) = E[t], E: (num_timesteps, dim) trained with the denoiser, initialised N(0, 1).

    t: (B,) long in [0, T-1] (float t is rounded) -> (B, dim). Discrete processes only.
    """

    discrete_only = True

    def __init__(self, dim: int = 32, num_timesteps: int = 1000) -> None:
        if isinstance(dim, bool) or not isinstance(dim, int) or dim < 1:
            raise ConfigError(f"time_embedding.dim={dim!r} must be an integer >= 1")
        super().__init__(dim, num_timesteps)
        self.table = nn.Embedding(self.num_timesteps, dim)

    def forward(self, t: Tensor) -> Tensor:
        index = t if not t.is_floating_point() else t.round().long()
        return self.table(index.clamp(0, self.num_timesteps - 1))
