"""Log-likelihoods by the probability-flow ODE with an exact divergence (low dimensions).

Every process x_t = alpha x_0 + sigma eps is, in the coordinates y = x_t / alpha and
sigma_ve = sigma / alpha, the variance-exploding one, whose probability-flow ODE is
dy / dsigma_ve = eps_hat(alpha y, t) (Karras et al. 2022, eq. 4 with D = y - sigma eps_hat).
Along a solution, d log p / dsigma_ve = -div_y eps_hat (the instantaneous change of
variables, Chen et al. 2018), so for data x_0 = y_0 (sigma_ve = 0, alpha = 1):

    log p(x_0) = log p_prior(y_top) + int_0^{sigma_top} div_y eps_hat(y(s), s) ds

with p_prior the model's prior, the sampler's start x_T = prior_scale z, i.e. y_top ~
N(0, (prior_scale / alpha_top)^2 I). The integral is solved with fixed steps on the
process's own grid: Heun's method between its levels, and Euler with the slope at the
lowest level over [0, sigma_1] (that level is ~sigma_min, so the error is O(sigma_1^2)).
The divergence is exact: D backward passes, one per coordinate.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from itertools import pairwise

import torch
from torch import Tensor

from diffkit.interfaces import Level, ModelFn, NoiseProcess

#: log p_prior(y, level): (N, D), the top level -> (N,) float64.
Prior = Callable[[Tensor, Level], Tensor]


def slope_and_divergence(model: ModelFn, process: NoiseProcess, y: Tensor, level: Level) -> tuple[Tensor, Tensor]:
    """f = eps_hat(alpha y, t) (N, D) and div_y f (N,) float64, exactly, at `level`."""
    with torch.enable_grad():
        y = y.detach().requires_grad_(True)
        x = y * level.alpha
        t = process.time_tensor(level.t, y.shape[0], x)
        _, f = process.split_prediction(model(x, t), x, t)
        div = torch.zeros(y.shape[0], dtype=torch.float64, device=y.device)
        for i in range(y.shape[1]):
            (grad,) = torch.autograd.grad(f[:, i].sum(), y, retain_graph=i < y.shape[1] - 1)
            div += grad[:, i].double()
    return f.detach(), div


def gaussian_prior(process: NoiseProcess) -> Prior:
    """The sampler's prior in y coordinates: N(0, (prior_scale / alpha)^2 I)."""

    def log_prob(y: Tensor, level: Level) -> Tensor:
        var = (process.prior_scale(level) / level.alpha) ** 2
        return -0.5 * y.double().square().sum(1) / var - 0.5 * y.shape[1] * math.log(2 * math.pi * var)

    return log_prob


def ode_log_likelihood(
    model: ModelFn,
    process: NoiseProcess,
    x0: Tensor,
    steps: int = 32,
    spacing: str = "karras",
    prior: Prior | None = None,
) -> Tensor:
    """log p_model(x0) for points x0 (N, D) -> (N,) float64 (see the module docstring).

    `steps` levels of `spacing` (`NoiseProcess.levels`) from the lowest noise up;
    `prior`: log p at the top level (default: the sampler's Gaussian)."""
    prior = prior or gaussian_prior(process)
    levels = [lv for lv in process.levels(steps, spacing) if lv.t is not None][::-1]  # least noisy first
    y = x0.detach()
    f, div = slope_and_divergence(model, process, y, levels[0])
    h = levels[0].sigma_ve
    y, logdet = y + h * f, h * div  # [0, sigma_1]: Euler with the slope at sigma_1
    for cur, nxt in pairwise(levels):
        h = nxt.sigma_ve - cur.sigma_ve
        f, div = slope_and_divergence(model, process, y, cur)
        f2, div2 = slope_and_divergence(model, process, y + h * f, nxt)
        y, logdet = y + 0.5 * h * (f + f2), logdet + 0.5 * h * (div + div2)
    return prior(y, levels[-1]) + logdet
