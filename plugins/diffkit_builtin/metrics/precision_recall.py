"""Improved precision and recall (Kynkäänniemi et al. 2019) in a chosen feature space."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from diffkit.errors import ConfigError

from .features import FeatureMetric

CHUNK = 1024


def knn_radii(features: Tensor, k: int) -> Tensor:
    """features (N, D) -> (N,): distance of each point to its k-th nearest other point."""
    out = [torch.cdist(chunk, features).kthvalue(k + 1, dim=1).values for chunk in features.split(CHUNK)]
    return torch.cat(out)


def coverage(manifold: Tensor, radii: Tensor, queries: Tensor) -> float:
    """Fraction of `queries` (M, D) inside some ball B(manifold_i, radii_i)."""
    inside = [(torch.cdist(chunk, manifold) <= radii).any(dim=1) for chunk in queries.split(CHUNK)]
    return float(torch.cat(inside).double().mean())


def precision_recall(real: Tensor, fake: Tensor, k: int = 3) -> tuple[float, float]:
    """precision = share of fake features inside the real k-NN manifold;
    recall = share of real features inside the fake k-NN manifold. real: (N, D), fake: (M, D)."""
    return coverage(real, knn_radii(real, k), fake), coverage(fake, knn_radii(fake, k), real)


class PrecisionRecall(FeatureMetric):
    """-> {"precision", "recall"}, with manifolds from each point's k-th nearest neighbour."""

    higher_is_better = True
    description = (
        "share of generated images inside the real k-NN manifold (precision) and of real "
        "images inside the generated one (recall); higher is better"
    )

    def __init__(self, k: int = 3, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if k < 1:
            raise ConfigError(f"k={k} must be >= 1")
        self.k = k

    def min_samples(self) -> int:
        return self.k + 1  # each point needs k neighbours besides itself

    def compute(self, real: Tensor, fake: Tensor) -> dict[str, float]:
        r, f = self.embed(real), self.embed(fake)
        if min(len(r), len(f)) <= self.k:
            raise ConfigError(f"precision_recall with k={self.k} needs more than {self.k} real and generated images")
        precision, recall = precision_recall(r, f, self.k)
        return {"precision": precision, "recall": recall}
