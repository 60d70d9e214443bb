"""The 2-Wasserstein distance between samples and fresh data, by exact optimal transport (POT)."""

from __future__ import annotations

from torch import Tensor

from diffkit.errors import ConfigError
from diffkit.interfaces import Metric

#: network-simplex iterations allowed: POT's default (1e5) stops short at a few thousand points.
MAX_ITER = 10_000_000


def wasserstein2(x: Tensor, y: Tensor) -> float:
    """W2(mu_x, mu_y) of the empirical measures of x (N, D) and y (M, D), uniform weights:
    sqrt(min_P sum_ij P_ij |x_i - y_j|^2) over couplings P (Flamary et al. 2021, ``ot.emd2``)."""
    import ot

    x, y = x.detach().double().cpu().flatten(1).numpy(), y.detach().double().cpu().flatten(1).numpy()
    cost = ot.dist(x, y, metric="sqeuclidean")
    return float(ot.emd2(ot.unif(x.shape[0]), ot.unif(y.shape[0]), cost, numItermax=MAX_ITER)) ** 0.5


class W2(Metric):
    """``w2``: W2 between up to `max_points` generated points and as many test points
    (the first of each set; the test split is data the model never trained on).

    An empirical W2 has a floor: two independent n-point samples of one distribution are
    at W2 > 0 (about n^(-1/2) in 2-D), so compare arms at the same n.

    Args:
        max_points: the points of each set transported (2000; the cost grows ~ n^3).
    """

    higher_is_better = False
    description = "2-Wasserstein distance from the samples to fresh data (exact optimal transport); lower is better"

    def __init__(self, max_points: int = 2000) -> None:
        if max_points < 1:
            raise ConfigError(f"eval.metrics: w2 max_points={max_points} must be >= 1")
        self.max_points = int(max_points)

    def prepare(self) -> None:
        """POT must be importable (a dependency of diffkit; checked before training)."""
        try:
            import ot  # noqa: F401
        except ImportError as e:
            raise ConfigError("metric w2 needs POT, the Python Optimal Transport library: pip install pot") from e

    def compute(self, real: Tensor, fake: Tensor) -> dict[str, float]:
        n = self.max_points
        return {"w2": wasserstein2(real[:n], fake[:n])}
