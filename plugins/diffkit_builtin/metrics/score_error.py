"""The model's denoiser and score against the exact ones of a known density."""

from __future__ import annotations

import torch
from torch import Tensor

from diffkit.errors import ConfigError
from diffkit.interfaces import Metric, MetricContext

from .exact import known_density, trained_model


class ScoreError(Metric):
    """``score_error`` = E |eps_hat - eps*|^2 / D = E sigma^2 |s_theta - s*|^2 / D, the
    sigma^2-weighted score error (the weighting of EDM2's toy example), where
    eps* = (x_t - alpha x0*) / sigma and x0* = E[x_0 | x_t] are exact
    (`KnownDensity`). The error in x0 is not reported: at the
    noisiest levels it is eps's divided by alpha ~ 0 and would drown the rest.

    The expectation is over the process's own training noise levels t ~ p(t)
    (``sample_t``), test points x_0 and eps ~ N(0, I), x_t = alpha x_0 + sigma eps: the
    error the model was trained to make small. Processes weight noise levels differently,
    so across processes compare it alongside w2 and nll.

    Args:
        num_points: (t, x_0, eps) draws (4096; the test points are reused cyclically).
        seed: seed of the draws of t and eps (the same for every run, so arms are paired).
    """

    higher_is_better = False
    description = (
        "sigma^2-weighted squared error of the model's score against the exact score "
        "(eps-space MSE per dimension) over the training noise levels; lower is better"
    )

    def __init__(self, num_points: int = 4096, seed: int = 0, context: MetricContext | None = None) -> None:
        if num_points < 1:
            raise ConfigError(f"eval.metrics: score_error num_points={num_points} must be >= 1")
        self.num_points, self.seed, self.context = int(num_points), int(seed), context

    def compute(self, real: Tensor, fake: Tensor) -> dict[str, float]:
        model, process = trained_model(self.context, "score_error")
        density = known_density(self.context, "score_error")
        device = self.context.device if self.context is not None else real.device
        n = self.num_points
        x0 = real[torch.arange(n) % real.shape[0]].to(device)
        g = torch.Generator(device=device).manual_seed(self.seed)
        t = process.sample_t(n, g, device)
        eps = torch.randn(x0.shape, generator=g, device=device)
        x_t = process.add_noise(x0, eps, t)
        with torch.no_grad():
            _, eps_hat = process.split_prediction(model(x_t, t), x_t, t)
        a, s = (v.double()[:, None] for v in process.alpha_sigma(t))
        x0_star = density.posterior_mean(x_t, a[:, 0], s[:, 0]).double()
        eps_star = (x_t.double() - a * x0_star) / s
        d = x0.shape[1]
        return {"score_error": float((eps_hat.double() - eps_star).square().sum(1).mean()) / d}
