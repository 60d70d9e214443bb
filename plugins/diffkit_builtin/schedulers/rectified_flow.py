"""Rectified flow / flow matching with the linear interpolant (Liu et al. 2023; Lipman et al. 2023)."""

from __future__ import annotations

import torch
from torch import Tensor

from diffkit.interfaces import ContinuousProcess
from diffkit.param_types import FiniteFloat, PositiveFloat


class RectifiedFlow(ContinuousProcess):
    """x_t = (1 - t) x_0 + t eps, t in [0, 1]: alpha = 1 - t, sigma = t, and the velocity
    target u = dx_t/dt = eps - x_0. The deterministic sampler (``ddim``) is the flow's Euler
    step x + (t' - t) u on t evenly spaced; the network sees 1000 t.

    Args:
        prediction_type: velocity (the flow's), eps, x0, v or F.
        density: uniform (Liu et al.) | logit_normal (Esser et al. 2024: loc = m, scale = s) | log_normal.
        density_loc, density_scale: the density's location and scale (0, 1).
        sigma_data: used by prediction_type F only.
    """

    def __init__(
        self,
        prediction_type: str = "velocity",
        density: str = "uniform",
        density_loc: FiniteFloat = 0.0,
        density_scale: PositiveFloat = 1.0,
        sigma_data: PositiveFloat = 0.5,
    ) -> None:
        super().__init__(
            prediction_type=prediction_type,
            sigma_data=sigma_data,
            density=density,
            density_loc=density_loc,
            density_scale=density_scale,
        )

    def alpha_sigma(self, t: Tensor) -> tuple[Tensor, Tensor]:
        t = t if t.is_floating_point() else t.float()
        return 1 - t, t

    def alpha_sigma_derivative(self, t: Tensor) -> tuple[Tensor, Tensor]:
        t = t if t.is_floating_point() else t.float()
        return -torch.ones_like(t), torch.ones_like(t)

    def t_from_log_snr(self, lam: Tensor) -> Tensor:
        """sigma/alpha = t / (1 - t) = exp(-lambda / 2)  =>  t = sigmoid(-lambda / 2)."""
        return torch.sigmoid(-lam / 2)
