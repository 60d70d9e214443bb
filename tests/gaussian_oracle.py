"""The optimal denoiser for data x0 ~ N(m, s^2) per pixel, in closed form.

x_t = a x0 + b eps with a = sqrt(abar_t), b = sqrt(1 - abar_t), so
E[x0 | x_t] = m + a s^2 (x_t - a m) / (a^2 s^2 + b^2). The model output of the
scheduler's prediction type follows from that through the scheduler's own target().
"""

from __future__ import annotations

import torch
from torch import Tensor

from diffkit.interfaces import Scheduler, extract


def gaussian_oracle(scheduler: Scheduler, m: float, s: float):
    """model(x_t, t) -> the Bayes-optimal prediction of ``scheduler.prediction_type``."""

    def model(x_t: Tensor, t: Tensor) -> Tensor:
        a = extract(scheduler.sqrt_alphas_cumprod, t, x_t.shape).double()
        b2 = extract(1.0 - scheduler.alphas_cumprod, t, x_t.shape).double()
        x = x_t.double()
        x0 = m + a * s**2 * (x - a * m) / (a**2 * s**2 + b2)
        eps = torch.where(b2 > 0, (x - a * x0) / b2.clamp_min(1e-30).sqrt(), torch.zeros_like(x))
        return scheduler.target(x0.to(x_t.dtype), eps.to(x_t.dtype), t)

    return model


def process_oracle(process, m: float, s: float):
    """The same for any noise process: model(x_t, t) -> Bayes-optimal output of its prediction type,
    with a, b = alpha(t), sigma(t) from ``process.alpha_sigma``."""

    def model(x_t: Tensor, t: Tensor) -> Tensor:
        a, b = (v.double().reshape(-1, *([1] * (x_t.ndim - 1))) for v in process.alpha_sigma(t))
        x = x_t.double()
        x0 = m + a * s**2 * (x - a * m) / (a**2 * s**2 + b**2)
        eps = torch.where(b > 0, (x - a * x0) / b.clamp_min(1e-30), torch.zeros_like(x))
        return process.target(x0.to(x_t.dtype), eps.to(x_t.dtype), t)

    return model
