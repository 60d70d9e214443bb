"""Discretising a schedule given as a continuous abar(t), t in [0, 1]."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from diffkit.errors import ConfigError


def betas_from_alphas_cumprod(abar: Callable[[Tensor], Tensor], num_timesteps: int, max_beta: float) -> Tensor:
    """beta_i = min(1 - abar((i+1)/T) / abar(i/T), max_beta), i in [0, T-1]
    (Nichol & Dhariwal 2021, eq. 17), so abar_i = abar((i+1)/T) / abar(0) until the clip bites.

    abar: decreasing, maps t (T+1,) float64 -> (T+1,). Returns (T,) float64.
    """
    if isinstance(max_beta, bool) or not isinstance(max_beta, (int, float)) or not 0 < max_beta <= 1:
        raise ConfigError(f"scheduler.max_beta={max_beta!r} must lie in (0, 1]")
    f = abar(torch.arange(num_timesteps + 1, dtype=torch.float64) / num_timesteps)
    return (1 - f[1:] / f[:-1]).clamp(max=max_beta)
