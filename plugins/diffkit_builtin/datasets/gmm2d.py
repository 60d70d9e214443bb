"""A 2-D Gaussian mixture with its exact density and score at every noise level."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

from diffkit.errors import ConfigError
from diffkit.interfaces import KnownDensity

from .points import PointDataset


def circle(num_modes: int, radius: float) -> list[list[float]]:
    """`num_modes` means evenly spaced on a circle of `radius`, the first at angle 0."""
    return [
        [radius * math.cos(2 * math.pi * k / num_modes), radius * math.sin(2 * math.pi * k / num_modes)]
        for k in range(num_modes)
    ]


class GaussianMixture(PointDataset, KnownDensity):
    """p(x_0) = sum_k w_k N(x_0; mu_k, s_k^2 I) in D dimensions (D = 2 by default).

    Noised exactly: x_t = alpha x_0 + sigma eps has p_t(x) = sum_k w_k N(x; alpha mu_k, v_k I)
    with v_k = alpha^2 s_k^2 + sigma^2, and E[x_0 | x_t = x] = sum_k r_k(x) (mu_k + alpha s_k^2
    (x - alpha mu_k) / v_k), r_k the responsibilities (posterior of the component).
    Computed in float64.

    Args:
        means: K means (each a list of D numbers); null: `num_modes` on a circle of `radius`.
        stds: the K standard deviations s_k, or one for all.
        weights: the K weights (normalised); null: equal.
        num_modes, radius: the default means (8 on a circle of radius 1).
        num_train, num_test, seed: see `PointDataset`.
    """

    def __init__(
        self,
        means: Sequence[Sequence[float]] | None = None,
        stds: float | list[float] = 0.1,
        weights: list[float] | None = None,
        num_modes: int = 8,
        radius: float = 1.0,
        num_train: int = 10000,
        num_test: int = 2000,
        seed: int = 0,
        root: str | None = None,
        download: bool = False,
    ) -> None:
        super().__init__(num_train, num_test, seed, root, download)
        mu = torch.tensor(circle(num_modes, radius) if means is None else [list(m) for m in means], dtype=torch.float64)
        if mu.ndim != 2 or mu.shape[0] < 1:
            raise ConfigError(f"data.means must be a list of K points of D numbers, got shape {tuple(mu.shape)}")
        k = mu.shape[0]
        std = (
            torch.tensor(stds, dtype=torch.float64).flatten().expand(k)
            if isinstance(stds, (int, float))
            else torch.tensor(list(stds), dtype=torch.float64)
        )
        w = torch.ones(k, dtype=torch.float64) if weights is None else torch.tensor(list(weights), dtype=torch.float64)
        if std.shape != (k,) or not bool((std > 0).all()):
            raise ConfigError(f"data.stds must be one number > 0 or {k} of them (one per mean)")
        if w.shape != (k,) or not bool((w >= 0).all()) or not w.sum() > 0:
            raise ConfigError(f"data.weights must be {k} numbers >= 0 (one per mean), not all 0")
        self.means, self.stds, self.weights = mu, std.clone(), w / w.sum()

    def draw(self, n: int, generator: torch.Generator) -> Tensor:
        """k ~ Categorical(w), x_0 = mu_k + s_k z."""
        k = torch.multinomial(self.weights, n, replacement=True, generator=generator)
        z = torch.randn((n, self.means.shape[1]), generator=generator, dtype=torch.float64)
        return self.means[k] + self.stds[k, None] * z

    def _components(self, x: Tensor, alpha: Tensor | float, sigma: Tensor | float) -> tuple[Tensor, Tensor, Tensor]:
        """log(w_k N(x; alpha mu_k, v_k I)) (N, K), v_k (N, K) and alpha (N, 1 or 1), float64."""
        x = x.double()
        a = torch.as_tensor(alpha, dtype=torch.float64).reshape(-1, 1)
        s = torch.as_tensor(sigma, dtype=torch.float64).reshape(-1, 1)
        v = a.square() * self.stds.square() + s.square()  # (N or 1, K)
        d = x.shape[1]
        sq = (x[:, None, :] - a[:, :, None] * self.means).square().sum(-1)  # (N, K)
        logn = self.weights.log() - 0.5 * d * (2 * math.pi * v).log() - sq / (2 * v)
        return logn, v.expand_as(logn), a

    def log_prob(self, x: Tensor, alpha: Tensor | float = 1.0, sigma: Tensor | float = 0.0) -> Tensor:
        """log p_t(x) = logsumexp_k log(w_k N(x; alpha mu_k, v_k I)): (N, D) -> (N,)."""
        return self._components(x, alpha, sigma)[0].logsumexp(1).to(x.dtype)

    def posterior_mean(self, x: Tensor, alpha: Tensor | float = 1.0, sigma: Tensor | float = 0.0) -> Tensor:
        """E[x_0 | x_t = x]: (N, D) -> (N, D)."""
        logn, v, a = self._components(x, alpha, sigma)
        r = logn.softmax(1)  # (N, K)
        gain = (a * self.stds.square() / v)[:, :, None]  # (N, K, 1)
        means = self.means + gain * (x.double()[:, None, :] - a[:, :, None] * self.means)  # (N, K, D)
        return (r[:, :, None] * means).sum(1).to(x.dtype)
