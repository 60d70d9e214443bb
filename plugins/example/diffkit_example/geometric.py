"""A geometric variance schedule: log beta_t is linear in t (a discrete chain, written
against plugin API 1.0: subclassing `diffkit.Scheduler` with betas still works)."""

from __future__ import annotations

import torch

from diffkit import ConfigError, Scheduler


class GeometricScheduler(Scheduler):
    """beta_t = beta_start (beta_end / beta_start)^(t / (T - 1)), t in [0, T-1].

    Consecutive betas have the constant ratio (beta_end / beta_start)^(1 / (T - 1)).

    Args:
        num_timesteps: T >= 1 (T = 1 gives beta_0 = beta_start).
        beta_start, beta_end: 0 < beta_start <= beta_end < 1.
        **kwargs: ``prediction_type`` and ``rescale_zero_terminal_snr`` of `diffkit.Scheduler`.
    """

    def __init__(self, num_timesteps: int = 1000, beta_start: float = 1e-4, beta_end: float = 0.02, **kwargs) -> None:
        if isinstance(num_timesteps, bool) or not isinstance(num_timesteps, int) or num_timesteps < 1:
            raise ConfigError(f"scheduler.num_timesteps={num_timesteps!r} must be an integer >= 1")
        if not 0 < beta_start <= beta_end < 1:
            raise ConfigError(
                f"scheduler.beta_start={beta_start}, scheduler.beta_end={beta_end}: need 0 < beta_start <= beta_end < 1"
            )
        frac = torch.linspace(0, 1, num_timesteps, dtype=torch.float64)
        betas = beta_start * (beta_end / beta_start) ** frac
        super().__init__(betas, **kwargs)
