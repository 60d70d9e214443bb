"""Heun's second-order method on the probability-flow ODE (Karras et al. 2022, Alg. 1, no churn)."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from diffkit.errors import ConfigError
from diffkit.interfaces import GuidanceFn, ModelFn, Sampler, Scheduler
from diffkit.interfaces.sampler import check_clip

from .timesteps import check_spacing, schedule, spaced_timesteps


class HeunSampler(Sampler):
    """In the variance-exploding coordinates x/sqrt(abar) with sigma = sqrt((1 - abar) / abar),
    the ODE is dx/dsigma = eps_hat. Each step takes the Euler step (which is DDIM, eta = 0)

        x' = sqrt(a') x0_hat + sqrt(1 - a') eps_hat

    then evaluates eps_hat' at (x', t') and corrects with the mean slope:

        x_next = x' + sqrt(a') (sigma' - sigma) (eps_hat' - eps_hat) / 2.

    The last step (to sigma = 0) and steps from sigma > sigma_max stay Euler: there the
    trapezoid over a huge sigma interval is unreliable while the Euler step, which uses
    x0_hat directly, is nearly exact (sigma = inf under zero terminal SNR). So `steps`
    timesteps cost at most 2 steps - 1 model evaluations.

    Args:
        steps: timesteps visited (default 25).
        spacing: leading | trailing | linspace.
        sigma_max: no correction from sigma above this (80, the top of Karras et al.'s schedule).
        clip_sample: keep x0_hat in [-1, 1] at every evaluation: true (clamp,
            the default), dynamic (Imagen's thresholding) or false.
    """

    default_steps = 25

    def __init__(
        self,
        steps: int | None = None,
        spacing: str = "trailing",
        sigma_max: float = 80.0,
        clip_sample: bool | str = True,
    ) -> None:
        super().__init__(steps)
        check_spacing(spacing)
        if isinstance(sigma_max, bool) or not isinstance(sigma_max, (int, float)) or not sigma_max > 0:
            raise ConfigError(f"sampler.sigma_max={sigma_max!r} must be a number > 0")
        self.spacing, self.sigma_max, self.clip_sample = spacing, float(sigma_max), check_clip(clip_sample)

    @torch.inference_mode()
    def sample(
        self,
        model: ModelFn,
        scheduler: Scheduler,
        noise: Tensor,
        *,
        steps: int | None = None,
        generator: torch.Generator | None = None,
        guidance: GuidanceFn | None = None,
    ) -> Tensor:
        timesteps = spaced_timesteps(scheduler.num_timesteps, self.num_steps(scheduler, steps), self.spacing)
        x = noise
        for (t, abar, abar_next), t_next in zip(schedule(scheduler, timesteps), [*timesteps[1:], -1]):
            # 1. Euler step
            x0, eps = self.denoise(model, scheduler, x, t, guidance, self.clip_sample)
            x_euler = math.sqrt(abar_next) * x0 + math.sqrt(1 - abar_next) * eps
            sigma = math.sqrt((1 - abar) / abar) if abar > 0 else math.inf
            if t_next < 0 or sigma > self.sigma_max:
                x = x_euler
                continue
            # 2. Heun correction with the slope at the Euler point
            _, eps_next = self.denoise(model, scheduler, x_euler, t_next, guidance, self.clip_sample)
            sigma_next = math.sqrt((1 - abar_next) / abar_next)
            x = x_euler + math.sqrt(abar_next) * (sigma_next - sigma) * (eps_next - eps) / 2
        return x
