"""The cosine schedule in continuous time (Nichol & Dhariwal 2021; Kingma et al. 2021's
cosine log-SNR, with the ends clipped as in Hoogeboom et al. 2023)."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from diffkit.errors import ConfigError
from diffkit.interfaces import ContinuousProcess
from diffkit.param_types import FiniteFloat, PositiveFloat


class VPCosine(ContinuousProcess):
    """alpha = cos(pi u / 2), sigma = sin(pi u / 2), u = u_min + t (u_max - u_min), t in [0, 1],
    i.e. lambda(t) = -2 log tan(pi u / 2), with u_min, u_max such that lambda runs from
    logsnr_max down to logsnr_min. Variance preserving; the network sees 1000 t.

    Args:
        logsnr_min, logsnr_max: the log-SNR at t = 1 and t = 0 (-15, 15).
        prediction_type: eps, x0, v, velocity or F.
        density: uniform | logit_normal | log_normal; density_loc, density_scale its parameters.
        sigma_data: used by prediction_type F only.
    """

    variance_preserving = True

    def __init__(
        self,
        logsnr_min: FiniteFloat = -15.0,
        logsnr_max: FiniteFloat = 15.0,
        prediction_type: str = "eps",
        density: str = "uniform",
        density_loc: FiniteFloat = 0.0,
        density_scale: PositiveFloat = 1.0,
        sigma_data: PositiveFloat = 0.5,
    ) -> None:
        numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (logsnr_min, logsnr_max))
        if not (numbers and logsnr_min < logsnr_max):
            raise ConfigError(
                f"scheduler.logsnr_min={logsnr_min!r} must be a number < scheduler.logsnr_max={logsnr_max!r}"
            )
        super().__init__(
            prediction_type=prediction_type,
            sigma_data=sigma_data,
            density=density,
            density_loc=density_loc,
            density_scale=density_scale,
        )
        self.u_min = 2 / math.pi * math.atan(math.exp(-logsnr_max / 2))
        self.u_max = 2 / math.pi * math.atan(math.exp(-logsnr_min / 2))

    def _angle(self, t: Tensor) -> Tensor:
        t = t if t.is_floating_point() else t.float()
        return math.pi / 2 * (self.u_min + t * (self.u_max - self.u_min))

    def alpha_sigma(self, t: Tensor) -> tuple[Tensor, Tensor]:
        phi = self._angle(t)
        return phi.cos(), phi.sin()

    def alpha_sigma_derivative(self, t: Tensor) -> tuple[Tensor, Tensor]:
        phi, dphi = self._angle(t), math.pi / 2 * (self.u_max - self.u_min)
        return -phi.sin() * dphi, phi.cos() * dphi

    def t_from_log_snr(self, lam: Tensor) -> Tensor:
        u = 2 / math.pi * torch.atan(torch.exp(-lam / 2))
        return ((u - self.u_min) / (self.u_max - self.u_min)).clamp(0, 1)
