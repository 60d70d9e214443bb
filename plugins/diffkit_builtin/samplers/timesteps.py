"""Which of the T training timesteps a few-step sampler visits (Lin et al. 2023, Table 2).

For T = 1000 and n = 10 steps:
  leading:  900, 800, ..., 0       (k T//n; DDIM's original choice, never visits T-1)
  trailing: 999, 899, ..., 99      (round(T - k T/n) - 1; starts at pure noise)
  linspace: 999, 888, ..., 0       (round of n points evenly over [0, T-1])
"""

from __future__ import annotations

import numpy as np

from diffkit.errors import ConfigError
from diffkit.interfaces import Scheduler

SPACINGS = ("leading", "trailing", "linspace")


def check_spacing(spacing: str) -> None:
    """Raise ConfigError unless `spacing` is one of SPACINGS."""
    if spacing not in SPACINGS:
        raise ConfigError(f"sampler.spacing={spacing!r} is not allowed; use one of {', '.join(SPACINGS)}")


def spaced_timesteps(num_timesteps: int, steps: int, spacing: str) -> list[int]:
    """`steps` distinct timesteps in [0, T-1], descending. steps = T gives T-1, ..., 0."""
    check_spacing(spacing)
    if isinstance(steps, bool) or not isinstance(steps, int) or not 1 <= steps <= num_timesteps:
        raise ConfigError(
            f"sampler.steps={steps!r} (or --steps) must be an integer in [1, {num_timesteps}] (scheduler.num_timesteps)"
        )
    T, n = num_timesteps, steps
    if spacing == "leading":
        ts = np.arange(n) * (T // n)
    elif spacing == "trailing":
        ts = np.round(np.arange(T, 0, -T / n))[:n] - 1
    else:
        ts = np.round(np.linspace(0, T - 1, n))
    return sorted({int(t) for t in ts}, reverse=True)


def schedule(scheduler: Scheduler, timesteps: list[int]) -> list[tuple[int, float, float]]:
    """(t, abar_t, abar_next) for each step, where abar_next belongs to the following
    timestep and is 1 (clean data) after the last. One host copy of alphas_cumprod."""
    abar = scheduler.alphas_cumprod.detach().double().cpu().tolist()
    nexts = [abar[t] for t in timesteps[1:]] + [1.0]
    return [(t, abar[t], a_next) for t, a_next in zip(timesteps, nexts)]
