"""Fréchet Inception Distance (Heusel et al. 2017) in a chosen feature space."""

from __future__ import annotations

import torch
from torch import Tensor

from .features import FeatureMetric


def frechet_distance(mu1: Tensor, sigma1: Tensor, mu2: Tensor, sigma2: Tensor) -> float:
    """d^2 = |mu1 - mu2|^2 + Tr(S1 + S2 - 2 (S1 S2)^(1/2)) between N(mu1, S1) and N(mu2, S2).

    mu: (D,), sigma: (D, D), float64. Tr (S1 S2)^(1/2) is the sum of the square roots
    of the eigenvalues of S1 S2, which are real and >= 0 for covariance matrices.
    """
    eig = torch.linalg.eigvals(sigma1 @ sigma2).real.clamp(min=0)
    d2 = (mu1 - mu2).square().sum() + sigma1.trace() + sigma2.trace() - 2 * eig.sqrt().sum()
    return float(d2.clamp(min=0))


def gaussian_fit(features: Tensor) -> tuple[Tensor, Tensor]:
    """features (N, D) -> mean (D,) and unbiased covariance (D, D)."""
    return features.mean(0), torch.cov(features.T)


class FID(FeatureMetric):
    """FID between the real and generated images' features -> {"fid": d^2}."""

    higher_is_better = False
    description = "Fréchet distance between Gaussians fitted to real and generated features (lower is better)"

    def min_samples(self) -> int:
        return 2  # a covariance needs two points

    def compute(self, real: Tensor, fake: Tensor) -> dict[str, float]:
        return {"fid": frechet_distance(*gaussian_fit(self.embed(real)), *gaussian_fit(self.embed(fake)))}
