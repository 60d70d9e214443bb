"""Prediction targets and their conversions, for x_t = a x_0 + s eps (the one place).

  eps       the noise                          x0 = (x_t - s eps) / a
  x0        the clean data                     eps = (x_t - a x0) / s
  v         a eps - s x0 (Salimans & Ho 2022)  x0 = (a x_t - s v) / n,  eps = (s x_t + a v) / n,  n = a^2 + s^2
  velocity  u = dx_t/dt = a' x0 + s' eps       x0 = (s' x_t - s u) / d,  eps = (a u - a' x_t) / d,  d = a s' - s a'
            (flow matching; rectified flow: u = eps - x0)
  F         EDM's network output (Karras et al. 2022, eq. 7), in the VE view x_t / a with
            sigma = s / a:  D = c_skip x_t / a + c_out F,  c_skip = sd^2 / (sigma^2 + sd^2),
            c_out = sigma sd / sqrt(sigma^2 + sd^2); written with a, s and D_ = sqrt(s^2 + a^2 sd^2):
            F = (s x0 - a sd^2 eps) / (sd D_),  x0 = a sd^2 x_t / D_^2 + s sd F / D_,
            eps = (s x_t - a sd D_ F) / D_^2   (finite at a = 0 and at s = 0)

All coefficients are (B, 1, ..., 1) tensors broadcasting over x: (B, C, H, W).
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor

PREDICTION_TYPES = ("eps", "x0", "v", "velocity", "F")


@dataclass
class Coefficients:
    """a = alpha(t), s = sigma(t), their t-derivatives (velocity only), sigma_data and
    whether a^2 + s^2 = 1 holds exactly (then v needs no normalisation)."""

    a: Tensor
    s: Tensor
    da: Tensor | None
    ds: Tensor | None
    sigma_data: float
    variance_preserving: bool

    def rates(self) -> tuple[Tensor, Tensor]:
        """(alpha'(t), sigma'(t)): only the velocity parametrisation needs them."""
        if self.da is None or self.ds is None:
            raise ValueError("prediction_type='velocity' needs the process's alpha'(t) and sigma'(t)")
        return self.da, self.ds

    def edm_norm(self) -> Tensor:
        """D_ = sqrt(s^2 + a^2 sd^2) = 1 / c_in."""
        return (self.s.square() + (self.a * self.sigma_data).square()).sqrt()


def target(kind: str, c: Coefficients, x0: Tensor, eps: Tensor) -> Tensor:
    """The training target of `kind` for data x0 and noise eps."""
    if kind == "eps":
        return eps
    if kind == "x0":
        return x0
    if kind == "v":
        return c.a * eps - c.s * x0
    if kind == "velocity":
        da, ds = c.rates()
        return da * x0 + ds * eps
    sd = c.sigma_data
    return (c.s * x0 - c.a * sd**2 * eps) / (sd * c.edm_norm())


def split(kind: str, c: Coefficients, out: Tensor, x_t: Tensor) -> tuple[Tensor, Tensor]:
    """A model output of `kind` -> (x0_hat, eps_hat)."""
    a, s = c.a, c.s
    if kind == "eps":
        return (x_t - s * out) / a.clamp_min(1e-12), out
    if kind == "x0":
        return out, (x_t - a * out) / s.clamp_min(1e-12)
    if kind == "v":
        x0, eps = a * x_t - s * out, s * x_t + a * out
        if not c.variance_preserving:
            n = a.square() + s.square()
            x0, eps = x0 / n, eps / n
        return x0, eps
    if kind == "velocity":
        da, ds = c.rates()
        d = a * ds - s * da
        return (ds * x_t - s * out) / d, (a * out - da * x_t) / d
    sd, norm = c.sigma_data, c.edm_norm()
    x0 = a * sd**2 * x_t / norm.square() + s * sd * out / norm
    eps = (s * x_t - a * sd * norm * out) / norm.square()
    return x0, eps


def x0_scale(kind: str, c: Coefficients) -> Tensor:
    """k = |d x0_hat / d output|: the MSE on x0 is k^2 times the MSE on the target."""
    a, s = c.a, c.s
    if kind == "eps":
        return s / a
    if kind == "x0":
        return a.new_ones(a.shape)
    if kind == "v":
        return s / (a.square() + s.square())
    if kind == "velocity":
        da, ds = c.rates()
        return s / (a * ds - s * da).abs()
    return s * c.sigma_data / c.edm_norm()
