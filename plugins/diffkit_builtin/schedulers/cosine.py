"""The cosine schedule of Nichol & Dhariwal 2021 ("Improved DDPM", eq. 17)."""

from __future__ import annotations

import math

import torch

from diffkit.errors import ConfigError
from diffkit.interfaces import Scheduler

from .continuous import betas_from_alphas_cumprod
from .linear import check_timesteps


class CosineScheduler(Scheduler):
    """abar(t) = f(t) / f(0), f(t) = cos((t + offset) / (1 + offset) pi/2)^2, t = (i + 1) / T;
    betas clipped at max_beta (0.999) so the last step keeps a little signal.

    Args:
        num_timesteps: T >= 1.
        offset: s in the paper (0.008), keeps beta_0 from being vanishingly small.
        max_beta: upper clip of beta_t, in (0, 1]; 1 gives abar_{T-1} = 0.
    """

    def __init__(self, num_timesteps: int = 1000, offset: float = 0.008, max_beta: float = 0.999, **kwargs) -> None:
        check_timesteps(num_timesteps)
        if isinstance(offset, bool) or not isinstance(offset, (int, float)) or offset < 0:
            raise ConfigError(f"scheduler.offset={offset!r} must be a number >= 0")

        def abar(t: torch.Tensor) -> torch.Tensor:
            return torch.cos((t + offset) / (1 + offset) * math.pi / 2) ** 2

        super().__init__(betas_from_alphas_cumprod(abar, num_timesteps, max_beta), **kwargs)
