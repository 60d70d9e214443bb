"""Denoising diffusion implicit models (Song et al. 2021): any number of steps, eta in [0, 1]."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from diffkit.errors import ConfigError
from diffkit.interfaces import GuidanceFn, ModelFn, Sampler, Scheduler
from diffkit.interfaces.sampler import check_clip

from .timesteps import check_spacing, schedule, spaced_timesteps


def ddim_step(
    x0: Tensor, eps: Tensor, abar: float, abar_next: float, eta: float, generator: torch.Generator | None
) -> Tensor:
    """x_next = sqrt(a') x0 + sqrt(1 - a' - sigma^2) eps + sigma z   (Song et al. 2021, eq. 12),

    sigma^2 = eta^2 (1 - a') / (1 - a) (1 - a / a'), with a = abar_t and a' = abar of the
    next (smaller) timestep. eta = 1 is the DDPM posterior of the respaced chain, eta = 0
    the deterministic ODE step. x0, eps: (B, C, H, W).
    """
    var = eta**2 * (1 - abar_next) / (1 - abar) * (1 - abar / abar_next)
    x = math.sqrt(abar_next) * x0 + math.sqrt(max(1 - abar_next - var, 0.0)) * eps
    if var > 0:
        x = x + math.sqrt(var) * torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
    return x


class DDIMSampler(Sampler):
    """DDIM on `steps` timesteps chosen by `spacing` (see ``timesteps.py``); each step is
    :func:`ddim_step`, x_next = sqrt(a') x0_hat + sqrt(1 - a' - sigma^2) eps_hat + sigma z.

    Args:
        steps: model evaluations (default 50).
        eta: 0 deterministic (given the initial noise) ... 1 ancestral (DDPM-like).
        spacing: leading | trailing | linspace.
        clip_sample: keep x0_hat in [-1, 1] (and re-derive eps_hat) at every step: true (clamp,
            the default), dynamic (Imagen's thresholding) or false.
    """

    default_steps = 50

    def __init__(
        self, steps: int | None = None, eta: float = 0.0, spacing: str = "trailing", clip_sample: bool | str = True
    ) -> None:
        super().__init__(steps)
        if isinstance(eta, bool) or not isinstance(eta, (int, float)) or not 0 <= eta <= 1:
            raise ConfigError(f"sampler.eta={eta!r} must be a number in [0, 1]")
        check_spacing(spacing)
        self.eta, self.spacing, self.clip_sample = float(eta), spacing, check_clip(clip_sample)

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
        for t, abar, abar_next in schedule(scheduler, timesteps):
            x0, eps = self.denoise(model, scheduler, x, t, guidance, self.clip_sample)
            x = ddim_step(x0, eps, abar, abar_next, self.eta, generator)
        return x
