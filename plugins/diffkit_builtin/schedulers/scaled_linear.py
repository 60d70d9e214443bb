"""The "scaled linear" schedule of latent diffusion (Rombach et al. 2022): linear in sqrt(beta)."""

from __future__ import annotations

import torch

from .linear import LinearScheduler


class ScaledLinearScheduler(LinearScheduler):
    """beta_t = linspace(sqrt(beta_start), sqrt(beta_end), T)[t]^2, t in [0, T-1].

    Args:
        num_timesteps: T >= 1.
        beta_start, beta_end: 0 < beta_start <= beta_end < 1 (Stable Diffusion's 0.00085, 0.012).
    """

    def __init__(
        self, num_timesteps: int = 1000, beta_start: float = 0.00085, beta_end: float = 0.012, **kwargs
    ) -> None:
        super().__init__(num_timesteps, beta_start, beta_end, **kwargs)

    @staticmethod
    def make_betas(beta_start: float, beta_end: float, num_timesteps: int) -> torch.Tensor:
        return torch.linspace(beta_start**0.5, beta_end**0.5, num_timesteps, dtype=torch.float64) ** 2
