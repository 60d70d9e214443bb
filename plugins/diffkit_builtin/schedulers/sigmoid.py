"""The sigmoid schedule of Chen 2023 ("On the Importance of Noise Scheduling", Alg. 1)."""

from __future__ import annotations

import torch

from diffkit.errors import ConfigError
from diffkit.interfaces import Scheduler

from .continuous import betas_from_alphas_cumprod
from .linear import check_timesteps


class SigmoidScheduler(Scheduler):
    """abar(t) = (v_end - sigmoid((t (end - start) + start) / tau)) / (v_end - v_start),
    v_start = sigmoid(start / tau), v_end = sigmoid(end / tau), t = (i + 1) / T;
    betas clipped at max_beta. A larger tau keeps more signal at mid t.

    Args:
        num_timesteps: T >= 1.
        start, end: the sigmoid's input range, start < end (-3, 3).
        tau: temperature > 0 (1.0).
        max_beta: upper clip of beta_t, in (0, 1].
    """

    def __init__(
        self,
        num_timesteps: int = 1000,
        start: float = -3.0,
        end: float = 3.0,
        tau: float = 1.0,
        max_beta: float = 0.999,
        **kwargs,
    ) -> None:
        check_timesteps(num_timesteps)
        if not start < end:
            raise ConfigError(f"scheduler.start={start} must be < scheduler.end={end}")
        if not tau > 0:
            raise ConfigError(f"scheduler.tau={tau} must be > 0")
        v_start, v_end = (torch.tensor([start, end], dtype=torch.float64) / tau).sigmoid().tolist()

        def abar(t: torch.Tensor) -> torch.Tensor:
            return (v_end - torch.sigmoid((t * (end - start) + start) / tau)) / (v_end - v_start)

        super().__init__(betas_from_alphas_cumprod(abar, num_timesteps, max_beta), **kwargs)
