"""The model's negative log-likelihood of fresh data, by its probability-flow ODE."""

from __future__ import annotations

from torch import Tensor

from diffkit.errors import ConfigError
from diffkit.interfaces import Metric, MetricContext, check_spacing

from .exact import trained_model
from .likelihood import ode_log_likelihood


class NLL(Metric):
    """``nll`` = -mean log p_model(x_0) in nats per point over up to `num_points` test
    points, where p_model is the density the model's probability-flow ODE carries its
    prior to (`ode_log_likelihood`: fixed-step
    Heun on `steps` levels of `spacing`, exact divergence; for points of a few dimensions).

    Args:
        steps: levels of the integration grid (32).
        spacing: the grid (karras: dense at low noise, where the density sharpens).
        num_points: test points scored (1000).
    """

    higher_is_better = False
    description = (
        "negative log-likelihood of fresh data (nats per point) under the model's probability-flow ODE; lower is better"
    )

    def __init__(
        self, steps: int = 32, spacing: str = "karras", num_points: int = 1000, context: MetricContext | None = None
    ) -> None:
        check_spacing(spacing)
        if steps < 2 or num_points < 1:
            raise ConfigError(f"eval.metrics: nll needs steps >= 2 and num_points >= 1, got {steps}, {num_points}")
        self.steps, self.spacing, self.num_points, self.context = int(steps), spacing, int(num_points), context

    def compute(self, real: Tensor, fake: Tensor) -> dict[str, float]:
        model, process = trained_model(self.context, "nll")
        if real.ndim != 2:
            raise ConfigError(f"metric nll scores points (N, D), not images {tuple(real.shape)}")
        device = self.context.device if self.context is not None else real.device
        x0 = real[: self.num_points].to(device)
        return {"nll": -float(ode_log_likelihood(model, process, x0, self.steps, self.spacing).mean())}
