"""Denoising diffusion implicit models (Song et al. 2021): any number of steps, eta in [0, 1],
on any noise process x_t = alpha x0 + sigma eps."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from diffkit.errors import ConfigError
from diffkit.interfaces import Level, Sampler, Trajectory


def level_step(
    x0: Tensor, eps: Tensor, cur: Level, nxt: Level, eta: float, generator: torch.Generator | None
) -> Tensor:
    """x_next = alpha' x0 + sqrt(sigma'^2 - var) eps + sqrt(var) z   (Song et al. 2021, eq. 12),

    var = eta^2 sigma'^2 (1 - snr / snr'), snr = alpha^2 / sigma^2 (the posterior variance of
    q(x_next | x_t, x0), Kingma et al. 2021, eq. 33). eta = 0 is the deterministic step, which is
    the Euler step of the probability-flow ODE in the VE view x / alpha (for rectified flow,
    the flow's Euler step x + (t' - t) u); eta = 1 is the ancestral (DDPM) step. x0, eps: (B, C, H, W).
    """
    var = 0.0
    if eta > 0 and nxt.sigma > 0:
        ratio = (cur.alpha * nxt.sigma / (nxt.alpha * cur.sigma)) ** 2 if cur.sigma > 0 else 1.0
        var = eta**2 * nxt.sigma**2 * (1 - ratio)
    x = nxt.alpha * x0 + math.sqrt(max(nxt.sigma**2 - var, 0.0)) * eps
    if var > 0:
        x = x + math.sqrt(var) * torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
    return x


class DDIMSampler(Sampler):
    """DDIM on `steps` levels chosen by `spacing` (see `diffkit.interfaces.timesteps`);
    each step is `level_step`, x_next = alpha' x0_hat + sqrt(sigma'^2 - var) eps_hat + sqrt(var) z.

    Args:
        steps: model evaluations (default 50).
        eta: 0 deterministic (given the initial noise) ... 1 ancestral (DDPM-like).
        spacing: leading | trailing | linspace (discrete chains; a continuous process then
            uses its own grid) | karras | log_snr | uniform_t.
        clip_sample: keep x0_hat in [-1, 1] (and re-derive eps_hat) at every step: true (clamp,
            the default), dynamic (Imagen's thresholding) or false.
    """

    default_steps = 50

    def __init__(
        self, steps: int | None = None, eta: float = 0.0, spacing: str = "trailing", clip_sample: bool | str = True
    ) -> None:
        super().__init__(steps, spacing, clip_sample)
        if isinstance(eta, bool) or not isinstance(eta, (int, float)) or not 0 <= eta <= 1:
            raise ConfigError(f"sampler.eta={eta!r} must be a number in [0, 1]")
        self.eta = float(eta)

    def update(self, x: Tensor, cur: Level, nxt: Level, path: Trajectory) -> Tensor:
        x0, eps = path.denoise(x, cur)
        return level_step(x0, eps, cur, nxt, self.eta, path.generator)
