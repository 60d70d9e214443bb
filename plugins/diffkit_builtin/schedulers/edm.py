"""EDM's variance-exploding process with preconditioning (Karras et al. 2022, Table 1)."""

from __future__ import annotations

import torch
from torch import Tensor

from diffkit.errors import ConfigError
from diffkit.interfaces import ContinuousProcess
from diffkit.param_types import FiniteFloat, PositiveFloat


class EDMProcess(ContinuousProcess):
    """x_sigma = x_0 + sigma eps: alpha = 1, sigma(t) = t, so t is EDM's sigma.

    The network sees c_in x with c_in = 1 / sqrt(sigma^2 + sigma_data^2) and the time
    1000 c_noise, c_noise = ln(sigma) / 4; with prediction_type F its output is combined as
    D = c_skip x + c_out F (`diffkit.interfaces.prediction`). Training draws
    ln(sigma) ~ N(density_loc, density_scale^2) (EDM's P_mean, P_std); pair it with
    ``loss.weighting=edm``, which for F is the plain mean. Samplers default to the Karras
    grid with rho = 7 between sigma_max and sigma_min.

    Args:
        sigma_min, sigma_max: the sampling range (0.002, 80); t lies in [sigma_min, sigma_max]
            for the uniform density and the sampling grids.
        sigma_data: the data's standard deviation (0.5).
        rho: the Karras grid's exponent (7).
        prediction_type: F (EDM's), eps, x0, v or velocity.
        density: log_normal (EDM's) | uniform | logit_normal.
        density_loc, density_scale: P_mean, P_std of log_normal (-1.2, 1.2).
    """

    scale_input = True
    default_spacing = "karras"

    def __init__(
        self,
        sigma_min: PositiveFloat = 0.002,
        sigma_max: PositiveFloat = 80.0,
        sigma_data: PositiveFloat = 0.5,
        rho: PositiveFloat = 7.0,
        prediction_type: str = "F",
        density: str = "log_normal",
        density_loc: FiniteFloat = -1.2,
        density_scale: PositiveFloat = 1.2,
    ) -> None:
        for key, value in (("sigma_min", sigma_min), ("sigma_max", sigma_max), ("rho", rho)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
                raise ConfigError(f"scheduler.{key}={value!r} must be a number > 0")
        if not sigma_min < sigma_max:
            raise ConfigError(f"scheduler.sigma_min={sigma_min} must be < scheduler.sigma_max={sigma_max}")
        super().__init__(
            prediction_type=prediction_type,
            sigma_data=sigma_data,
            density=density,
            density_loc=density_loc,
            density_scale=density_scale,
        )
        self.t_min, self.t_max = self.sigma_min, self.sigma_max = float(sigma_min), float(sigma_max)
        self.rho = float(rho)

    def alpha_sigma(self, t: Tensor) -> tuple[Tensor, Tensor]:
        t = t if t.is_floating_point() else t.float()
        return torch.ones_like(t), t

    def alpha_sigma_derivative(self, t: Tensor) -> tuple[Tensor, Tensor]:
        t = t if t.is_floating_point() else t.float()
        return torch.zeros_like(t), torch.ones_like(t)

    def t_from_log_snr(self, lam: Tensor) -> Tensor:
        """sigma = exp(-lambda / 2) (not clamped: the log-normal density reaches past the sampling range)."""
        return torch.exp(-lam / 2)

    def model_time(self, t: Tensor) -> Tensor:
        """1000 c_noise = 250 ln(sigma)."""
        return 250.0 * t.log()
