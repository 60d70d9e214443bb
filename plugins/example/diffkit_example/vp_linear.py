"""A continuous-time process: the variance-preserving SDE of Song et al. 2021 (plugin API 1.1)."""

from __future__ import annotations

import torch
from torch import Tensor

from diffkit import ConfigError, ContinuousProcess


class VPLinearProcess(ContinuousProcess):
    """beta(t) = beta_min + t (beta_max - beta_min), t in [t_min, 1]:
    log alpha(t) = -t^2 (beta_max - beta_min) / 4 - t beta_min / 2,  sigma = sqrt(1 - alpha^2)
    (Song et al. 2021, eq. 33; DDPM's linear betas in the limit T -> inf with beta_i = beta(t) / T).

    Args:
        beta_min, beta_max: 0 < beta_min < beta_max (0.1, 20).
        t_min: the smallest training time (1e-3; sigma(0) = 0).
        **kwargs: prediction_type, sigma_data, density, density_loc, density_scale of
            `diffkit.ContinuousProcess`.
    """

    variance_preserving = True

    def __init__(self, beta_min: float = 0.1, beta_max: float = 20.0, t_min: float = 1e-3, **kwargs) -> None:
        if not 0 < beta_min < beta_max:
            raise ConfigError(
                f"scheduler.beta_min={beta_min}, scheduler.beta_max={beta_max}: need 0 < beta_min < beta_max"
            )
        if not 0 < t_min < 1:
            raise ConfigError(f"scheduler.t_min={t_min!r} must lie in (0, 1)")
        super().__init__(**kwargs)
        self.beta_min, self.slope, self.t_min = float(beta_min), float(beta_max - beta_min), float(t_min)

    def _log_alpha(self, t: Tensor) -> Tensor:
        return -0.25 * self.slope * t.square() - 0.5 * self.beta_min * t

    def alpha_sigma(self, t: Tensor) -> tuple[Tensor, Tensor]:
        alpha = self._log_alpha(t).exp()
        return alpha, (-torch.expm1(2 * self._log_alpha(t))).sqrt()

    def alpha_sigma_derivative(self, t: Tensor) -> tuple[Tensor, Tensor]:
        alpha, sigma = self.alpha_sigma(t)
        d_alpha = -0.5 * (self.beta_min + self.slope * t) * alpha
        return d_alpha, -alpha * d_alpha / sigma

    def t_from_log_snr(self, lam: Tensor) -> Tensor:
        """-log alpha^2 = softplus(-lambda) = c, then t solves slope t^2 / 2 + beta_min t = c."""
        c = torch.nn.functional.softplus(-lam)
        t = (-self.beta_min + (self.beta_min**2 + 2 * self.slope * c).sqrt()) / self.slope
        return t.clamp(self.t_min, self.t_max)
