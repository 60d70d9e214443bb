"""The linear variance schedule of Ho et al. 2020."""

from __future__ import annotations

import torch

from diffkit.errors import ConfigError
from diffkit.interfaces import Scheduler


class LinearScheduler(Scheduler):
    """beta_t = linspace(beta_start, beta_end, T)[t], t in [0, T-1].

    Args:
        num_timesteps: T >= 1.
        beta_start, beta_end: 0 < beta_start <= beta_end < 1.
    """

    def __init__(self, num_timesteps: int = 1000, beta_start: float = 1e-4, beta_end: float = 0.02, **kwargs) -> None:
        check_timesteps(num_timesteps)
        if not (0 < beta_start < 1 and 0 < beta_end < 1):
            raise ConfigError(
                f"scheduler.beta_start={beta_start} and scheduler.beta_end={beta_end} must both lie in (0, 1)"
            )
        if beta_end < beta_start:
            raise ConfigError(f"scheduler.beta_end={beta_end} must be >= scheduler.beta_start={beta_start}")
        super().__init__(self.make_betas(beta_start, beta_end, num_timesteps), **kwargs)

    @staticmethod
    def make_betas(beta_start: float, beta_end: float, num_timesteps: int) -> torch.Tensor:
        """(T,) float64 betas between the validated endpoints."""
        return torch.linspace(beta_start, beta_end, num_timesteps, dtype=torch.float64)


def check_timesteps(num_timesteps: object) -> None:
    """Raise ConfigError unless `num_timesteps` is an integer >= 1."""
    if isinstance(num_timesteps, bool) or not isinstance(num_timesteps, int) or num_timesteps < 1:
        raise ConfigError(f"scheduler.num_timesteps={num_timesteps!r} must be an integer >= 1")
