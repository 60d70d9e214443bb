"""Ancestral sampling of DDPM (Ho et al. 2020, Algorithm 2), optionally respaced to fewer
steps (Nichol & Dhariwal 2021, sec. 4)."""

from __future__ import annotations

import torch
from torch import Tensor

from diffkit.interfaces import Level, Sampler, Scheduler, Trajectory
from diffkit.interfaces.sampler import clip_x0

from .ddim import level_step


class DDPMSampler(Sampler):
    """x_{t-1} = mu(x_t, x0_hat) + sigma_t z, z ~ N(0, I), with z = 0 where t == 0.

    mu is the posterior mean of q(x_{t-1} | x_t, x0_hat) and sigma_t^2 the posterior
    variance beta_t (1 - abar_{t-1}) / (1 - abar_t). For eps-prediction this equals
    mu = (x_t - beta_t / sqrt(1 - abar_t) eps_hat) / sqrt(alpha_t).

    Each step is the DDIM step with eta = 1 (Song et al. 2021, sec. 4.1), which it reuses:
    on all T steps that is the posterior above; with steps < T it is the respaced chain on
    tau_1 > ... > tau_n with beta'_i = 1 - abar_{tau_i} / abar_{tau_{i+1}}.

    Args:
        steps: model evaluations (default: all T).
        clip_sample: keep x0_hat in [-1, 1] (and re-derive eps_hat) at every step: true (clamp,
            the default), dynamic (Imagen's thresholding) or false.
        spacing: timesteps of a respaced run: linspace (improved DDPM's) | leading | trailing
            | karras | log_snr | uniform_t (see `diffkit.interfaces.timesteps`).
    """

    def __init__(self, steps: int | None = None, clip_sample: bool | str = True, spacing: str = "linspace") -> None:
        super().__init__(steps, spacing, clip_sample)

    def step(
        self,
        model_output: Tensor,
        t: Tensor,
        x_t: Tensor,
        scheduler: Scheduler,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """One reverse step of the discrete chain for a raw model output (diffusers' ``step``).
        model_output, x_t: (B, C, H, W); t: (B,) long, may differ per sample."""
        x0, _ = scheduler.split_prediction(model_output, x_t, t)
        x0 = clip_x0(x0, self.clip_sample)
        mean, var, _ = scheduler.posterior(x0, x_t, t)
        noise = torch.randn(x_t.shape, generator=generator, device=x_t.device, dtype=x_t.dtype)
        nonzero = (t > 0).to(x_t.dtype).reshape(-1, *([1] * (x_t.ndim - 1)))
        return mean + nonzero * var.sqrt() * noise

    def update(self, x: Tensor, cur: Level, nxt: Level, path: Trajectory) -> Tensor:
        x0, eps = path.denoise(x, cur)
        return level_step(x0, eps, cur, nxt, 1.0, path.generator)
