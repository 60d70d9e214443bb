"""Ancestral DDPM sampling on a strided subset of the timesteps ("respacing",
Nichol & Dhariwal 2021, sec. 4)."""

from __future__ import annotations

import math

from torch import Tensor

from diffkit import Sampler
from diffkit.interfaces import Level, Trajectory


class StridedSampler(Sampler):
    """DDPM on timesteps tau_1 > ... > tau_n spaced evenly over [0, T-1] (``linspace``).

    Notation: a = abar at the current level, a_prev = abar at the next one (1 after the last).
    Each step uses the respaced variance beta' = 1 - a / a_prev and the posterior
      x_prev = sqrt(a_prev) beta' / (1 - a) x0_hat + sqrt(1 - beta') (1 - a_prev) / (1 - a) x_t
               + sigma z,   sigma^2 = beta' (1 - a_prev) / (1 - a),
    with no noise on the last step. With n = T this is exactly DDPM (Ho et al. 2020, Alg. 2).
    The base class picks the timesteps, scales the initial noise and clips x0_hat.

    Args:
        steps: n, the number of model evaluations (default: T).
        spacing: the grid (default linspace: evenly over [0, T-1]).
        clip_sample: clamp x0_hat to [-1, 1] (the default, like the built-in samplers).
    """

    def __init__(self, steps: int | None = None, spacing: str = "linspace", clip_sample: bool | str = True) -> None:
        super().__init__(steps, spacing, clip_sample)

    def update(self, x: Tensor, cur: Level, nxt: Level, path: Trajectory) -> Tensor:
        # 1. predict x_0 from the model output (clipped by the base)
        x0, _ = path.denoise(x, cur)
        # 2. respaced beta and the posterior q(x_prev | x_t, x0_hat)
        a, a_prev = cur.alpha**2, nxt.alpha**2
        beta = 1 - a / a_prev
        coef_x0 = math.sqrt(a_prev) * beta / (1 - a)
        coef_xt = math.sqrt(1 - beta) * (1 - a_prev) / (1 - a)
        x = coef_x0 * x0 + coef_xt * x
        # 3. add noise, except on the last step (to clean data)
        if nxt.t is None:
            return x
        return x + math.sqrt(beta * (1 - a_prev) / (1 - a)) * path.randn_like(x)
