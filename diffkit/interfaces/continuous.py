"""Noise processes over continuous t: the base of EDM, flow matching and VP-cosine."""

from __future__ import annotations

import math
from abc import abstractmethod

import torch
from torch import Tensor

from diffkit.interfaces import densities
from diffkit.interfaces import timesteps as grids
from diffkit.interfaces.process import CLEAN, Level, NoiseProcess
from diffkit.param_types import FiniteFloat, PositiveFloat


class ContinuousProcess(NoiseProcess):
    """x_t = alpha(t) x_0 + sigma(t) eps for real t in [t_min, t_max] (noisiest at t_max).

    Subclasses implement `alpha_sigma`, `alpha_sigma_derivative` and
    `t_from_log_snr`, and set ``t_min``, ``t_max``. Sampling grids in the noise
    level (karras, log_snr) span VE sigmas within [sigma_min, sigma_max] (EDM's 0.002, 80).

    Args:
        prediction_type: what the denoiser predicts (see `NoiseProcess`).
        sigma_data: the data's standard deviation (see `NoiseProcess`).
        density: the training-time density of t (`diffkit.interfaces.densities`; None: the
            class's ``default_density``).
        density_loc: the density's location (None: the density's default).
        density_scale: the density's scale (None: the density's default).
    """

    t_min: float = 0.0
    t_max: float = 1.0
    sigma_min: float = 0.002
    sigma_max: float = 80.0
    rho: float = 7.0
    default_spacing = "uniform_t"
    default_density = "uniform"

    def __init__(
        self,
        *,
        prediction_type: str = "eps",
        sigma_data: PositiveFloat = 0.5,
        density: str | None = None,
        density_loc: FiniteFloat | None = None,
        density_scale: PositiveFloat | None = None,
    ) -> None:
        super().__init__(prediction_type=prediction_type, sigma_data=sigma_data)
        self.density = density or self.default_density
        self.density_loc, self.density_scale = densities.check_density(self.density, density_loc, density_scale)

    @abstractmethod
    def t_from_log_snr(self, lam: Tensor) -> Tensor:
        """The inverse of lambda(t): lam (B,) -> t (B,) (clamped into [t_min, t_max] where t is bounded)."""

    def sample_t(self, n: int, generator: torch.Generator | None, device: torch.device | str) -> Tensor:
        return densities.draw(
            self.density,
            self.density_loc,
            self.density_scale,
            (self.t_min, self.t_max),
            self.t_from_log_snr,
            n,
            generator,
            device,
        )

    def model_time(self, t: Tensor) -> Tensor:
        """num_timesteps (t - t_min) / (t_max - t_min): a network sees [0, 1000] as on the discrete chain."""
        return (t - self.t_min) * (self.num_timesteps / (self.t_max - self.t_min))

    def time_tensor(self, t: int | float, n: int, like: Tensor) -> Tensor:
        dtype = like.dtype if like.is_floating_point() else torch.float32
        return torch.full((n,), float(t), device=like.device, dtype=dtype)

    def evenly_spaced_t(self, n: int, device: torch.device | str) -> Tensor:
        """n times evenly spaced in log-SNR, least noisy first."""
        ts = [level.t for level in self.levels(n, "log_snr")[:-1]][::-1]
        return torch.tensor(ts, dtype=torch.float32, device=device)

    # -- sampling grids ----------------------------------------------------
    def level(self, t: float) -> Level:
        """alpha, sigma at t as host floats."""
        a, s = self.alpha_sigma(torch.tensor([float(t)], dtype=torch.float64))
        return Level(float(t), float(a), float(s))

    def sigma_range(self) -> tuple[float, float]:
        """VE sigmas spanned by the karras and log_snr grids: the process's own range within [sigma_min, sigma_max]."""
        lo, hi = self.level(self.t_min).sigma_ve, self.level(self.t_max).sigma_ve
        return max(lo, self.sigma_min), min(hi, self.sigma_max)

    def levels(self, steps: int, spacing: str) -> list[Level]:
        """`steps` levels of `spacing` (`diffkit.interfaces.timesteps`), then clean data."""
        grids.check_spacing(spacing)
        n = grids.check_steps(steps)
        if spacing in grids.DISCRETE_SPACINGS:
            spacing = self.default_spacing
        if spacing == "uniform_t":
            ts = torch.linspace(self.t_max, self.t_min, n + 1, dtype=torch.float64)[:-1]
        else:
            s_lo, s_hi = self.sigma_range()
            lams = grids.noise_level_grid(spacing, -2 * math.log(s_hi), -2 * math.log(s_lo), n, self.rho)
            ts = self.t_from_log_snr(torch.tensor(lams, dtype=torch.float64))
        return [self.level(float(t)) for t in ts] + [CLEAN]

    def extra_repr(self) -> str:
        return f"prediction_type={self.prediction_type!r}, density={self.density!r}"
