"""Data distributions whose noised marginals are known in closed form (the exact tier).

For x_t = alpha x_0 + sigma eps with x_0 ~ p_data and eps ~ N(0, I), a dataset that
subclasses `KnownDensity` gives the marginal density of x_t, its score and the
posterior mean E[x_0 | x_t] exactly, so metrics can compare a model's denoiser and its
likelihood with the truth (``plugins/diffkit_builtin/metrics``: score_error, nll).
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from torch import Tensor

from diffkit.interfaces.process import NoiseProcess
from diffkit.interfaces.sampler import ModelFn


class KnownDensity(ABC):
    """p_t(x) = E_{x_0 ~ p_data} N(x; alpha x_0, sigma^2 I), exactly.

    x: (N, D); alpha, sigma: floats or (N,) tensors (alpha = 1, sigma = 0: the data itself).
    A subclass implements `log_prob` and `posterior_mean`; the score follows by
    Tweedie's formula.
    """

    @abstractmethod
    def log_prob(self, x: Tensor, alpha: Tensor | float = 1.0, sigma: Tensor | float = 0.0) -> Tensor:
        """log p_t(x): (N, D) -> (N,)."""

    @abstractmethod
    def posterior_mean(self, x: Tensor, alpha: Tensor | float = 1.0, sigma: Tensor | float = 0.0) -> Tensor:
        """E[x_0 | x_t = x]: (N, D) -> (N, D)."""

    def score(self, x: Tensor, alpha: Tensor | float = 1.0, sigma: Tensor | float = 0.0) -> Tensor:
        """grad_x log p_t(x) = (alpha E[x_0 | x] - x) / sigma^2 (Tweedie): (N, D) -> (N, D); sigma > 0."""
        a, s = _column(alpha, x), _column(sigma, x)
        return (a * self.posterior_mean(x, alpha, sigma) - x) / s.square()


def _column(v: Tensor | float, x: Tensor) -> Tensor:
    """A float or (N,) tensor as (N, 1) (or a scalar tensor) on x's device and dtype."""
    if isinstance(v, Tensor):
        return v.to(x).reshape(-1, 1) if v.ndim else v.to(x)
    return x.new_tensor(float(v))


def oracle(density: KnownDensity, process: NoiseProcess) -> ModelFn:
    """The Bayes-optimal model of `process` on `density`: ``model(x_t, t)`` returns the
    prediction target of the exact x0* = E[x_0 | x_t] and eps* = (x_t - alpha x0*) / sigma,
    so ``split_prediction`` recovers them. x_t: (B, D) -> (B, D)."""

    def model(x: Tensor, t: Tensor) -> Tensor:
        a, s = process.alpha_sigma(t)
        x0 = density.posterior_mean(x, a, s)
        eps = (x.double() - a.double()[:, None] * x0.double()) / s.double()[:, None]
        return process.target(x0, eps.to(x.dtype), t)

    return model
