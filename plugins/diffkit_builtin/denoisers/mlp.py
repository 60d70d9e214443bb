"""A residual MLP for points (N, D): the denoiser of the exact tier's 2-D data."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from diffkit.errors import ConfigError
from diffkit.interfaces import Denoiser, TimeEmbedding


class ResidualBlock(nn.Module):
    """h <- h + W2 SiLU(W1 SiLU(LayerNorm(h)) + c): c the block's projection of the time features.
    h: (B, H), c_emb: (B, E) -> (B, H)."""

    def __init__(self, hidden: int, emb_dim: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(hidden)
        self.fc1, self.fc2 = nn.Linear(hidden, hidden), nn.Linear(hidden, hidden)
        self.emb = nn.Linear(emb_dim, hidden)
        self.act = nn.SiLU()

    def forward(self, h: Tensor, c_emb: Tensor) -> Tensor:
        return h + self.fc2(self.act(self.fc1(self.act(self.norm(h))) + self.emb(c_emb)))


class MLPDenoiser(Denoiser):
    """f(x_t, t[, y]) for points x_t: (B, D) -> (B, D).

    c = MLP(emb(t)) (+ a label embedding), h_0 = W_in x_t, then `depth` residual blocks
    that each add their projection of c (`ResidualBlock`), out = W_out SiLU(h).
    The time embedding is the run's (``time_embedding``), as in the U-Nets.

    Args:
        hidden: the width H (128).
        depth: residual blocks (3).
    """

    def __init__(
        self, in_channels: int, time_embedding: TimeEmbedding, num_classes: int = 0, hidden: int = 128, depth: int = 3
    ) -> None:
        super().__init__(in_channels, time_embedding, num_classes)
        for key, value, low in (("hidden", hidden, 1), ("depth", depth, 0)):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ConfigError(f"denoiser.{key}={value!r} must be an integer >= {low}")
        dim = time_embedding.dim
        self.time_mlp = nn.Sequential(nn.Linear(dim, hidden), nn.SiLU(), nn.Linear(hidden, hidden))
        self.label_emb = nn.Embedding(num_classes + 1, dim) if num_classes else None
        self.inp = nn.Linear(in_channels, hidden)
        self.blocks = nn.ModuleList(ResidualBlock(hidden, hidden) for _ in range(depth))
        self.out = nn.Sequential(nn.SiLU(), nn.Linear(hidden, in_channels))

    def forward(self, x: Tensor, t: Tensor, y: Tensor | None = None) -> Tensor:
        """x: (B, D) points, t: (B,), y: (B,) long or None -> (B, D)."""
        if x.ndim != 2:
            raise ConfigError(
                f"denoiser.name=mlp takes points (B, D), got {tuple(x.shape)}; "
                "use a U-Net for images (denoiser.name=unet)"
            )
        t_emb = self.time_embedding(t)
        if self.label_emb is not None:
            t_emb = t_emb + self.label_emb(y if y is not None else torch.full_like(t, self.num_classes).long())
        c = self.time_mlp(t_emb)
        h = self.inp(x)
        for block in self.blocks:
            h = block(h, c)
        return self.out(h)
