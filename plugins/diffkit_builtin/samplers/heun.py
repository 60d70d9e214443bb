"""Heun's second-order method on the probability-flow ODE (Karras et al. 2022, Alg. 1, no churn)."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from diffkit.interfaces import GuidanceFn, ModelFn, Sampler, Scheduler

from .timesteps import check_spacing, schedule, spaced_timesteps


class HeunSampler(Sampler):
    """In the variance-exploding coordinates x/sqrt(abar) with sigma = sqrt((1 - abar) / abar),
    the ODE is dx/dsigma = eps_hat. Each step takes the Euler step (which is DDIM, eta = 0)

        x' = sqrt(a') x0_hat + sqrt(1 - a') eps_hat

    then evaluates eps_hat' at (x', t') and corrects with the mean slope:

        x_next = x' + sqrt(a') (sigma' - sigma) (eps_hat' - eps_hat) / 2.

    The last step (to sigma = 0) and a step from sigma = inf (zero terminal SNR) stay Euler,
    so `steps` timesteps cost 2 steps - 1 model evaluations (one fewer from sigma = inf).

    Args:
        steps: timesteps visited (default 25).
        spacing: leading | trailing | linspace.
        clip_sample: clamp x0_hat to [-1, 1] at every evaluation.
    """

    default_steps = 25

    def __init__(self, steps: int | None = None, spacing: str = "trailing", clip_sample: bool = False) -> None:
        super().__init__(steps)
        check_spacing(spacing)
        self.spacing, self.clip_sample = spacing, clip_sample

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
            if t_next < 0 or abar <= 0:
                x = x_euler
                continue
            # 2. Heun correction with the slope at the Euler point
            _, eps_next = self.denoise(model, scheduler, x_euler, t_next, guidance, self.clip_sample)
            sigma, sigma_next = math.sqrt((1 - abar) / abar), math.sqrt((1 - abar_next) / abar_next)
            x = x_euler + math.sqrt(abar_next) * (sigma_next - sigma) * (eps_next - eps) / 2
        return x
