"""Ancestral sampling of DDPM (Ho et al. 2020, Algorithm 2)."""

from __future__ import annotations

import torch
from torch import Tensor

from diffkit.errors import ConfigError
from diffkit.interfaces import GuidanceFn, ModelFn, Sampler, Scheduler


class DDPMSampler(Sampler):
    """x_{t-1} = mu(x_t, x0_hat) + sigma_t z, z ~ N(0, I), with z = 0 where t == 0.

    mu is the posterior mean of q(x_{t-1} | x_t, x0_hat) and sigma_t^2 the posterior
    variance beta_t (1 - abar_{t-1}) / (1 - abar_t). For eps-prediction this equals
    mu = (x_t - beta_t / sqrt(1 - abar_t) eps_hat) / sqrt(alpha_t). Runs all T steps.

    Args:
        clip_sample: clamp x0_hat to [-1, 1] before computing the mean.
    """

    def __init__(self, steps: int | None = None, clip_sample: bool = False) -> None:
        super().__init__(steps)
        self.clip_sample = clip_sample

    def step(
        self,
        model_output: Tensor,
        t: Tensor,
        x_t: Tensor,
        scheduler: Scheduler,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """One reverse step. model_output, x_t: (B, C, H, W); t: (B,) long, may differ per sample."""
        x0, _ = scheduler.split_prediction(model_output, x_t, t)
        if self.clip_sample:
            x0 = x0.clamp(-1, 1)
        mean, var, _ = scheduler.posterior(x0, x_t, t)
        noise = torch.randn(x_t.shape, generator=generator, device=x_t.device, dtype=x_t.dtype)
        nonzero = (t > 0).to(x_t.dtype).reshape(-1, *([1] * (x_t.ndim - 1)))
        return mean + nonzero * var.sqrt() * noise

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
        n = self.num_steps(scheduler, steps)
        if n != scheduler.num_timesteps:
            raise ConfigError(
                f"sampler 'ddpm' runs all {scheduler.num_timesteps} steps (got steps={n}); "
                "use a fast sampler for fewer steps"
            )
        x = noise
        for i in reversed(range(scheduler.num_timesteps)):
            t = torch.full((x.shape[0],), i, device=x.device, dtype=torch.long)
            out = model(x, t)
            if guidance is not None:
                out = guidance(out, x, t)
            x = self.step(out, t, x, scheduler, generator)
        return x
