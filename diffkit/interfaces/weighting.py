"""Per-sample loss weights, and the base class that applies them to any per-pixel penalty.

A built-in or third-party loss gets the ``weighting`` options by subclassing
`WeightedLoss` and implementing ``penalty`` (one formula); the base class reduces
it per sample, multiplies by w(t) and averages over the batch.

Every weighting is defined on the x0 error, w_x0(t) ||x0_hat - x0||^2, and rewritten for
the model's target through k(t) = |d x0_hat / d output| (``NoiseProcess.x0_scale``):
w = w_x0 k^2, since ||x0_hat - x0|| = k ||output - target||. With snr = alpha^2 / sigma^2,
lambda = log snr and sigma_ve = sigma / alpha:
  none:    w = 1 on the target (the plain mean)
  min_snr: w_x0 = min(snr, gamma) (Hang et al. 2023)
  edm:     w_x0 = (sigma_ve^2 + sd^2) / (sigma_ve sd)^2 (Karras et al. 2022, eq. 8:
           lambda(sigma) = 1 / c_out^2, so F-prediction gets w = 1)
  sigmoid: w_eps = sigmoid(b - lambda), i.e. w_x0 = snr sigmoid(b - lambda) (Kingma & Gao 2023),
           b = ``WeightedLoss.sigmoid_bias`` (0; a subclass may change it)
The edm weighting takes sd from the scheduler's ``sigma_data``.
A weighting trades against the training density of t: see `densities`.
"""

from __future__ import annotations

import math
from abc import abstractmethod

from torch import Tensor

from diffkit.errors import ConfigError
from diffkit.interfaces.loss import Loss
from diffkit.interfaces.process import NoiseProcess

WEIGHTINGS = ("none", "min_snr", "edm", "sigmoid")


def min_snr_weight(snr: Tensor, gamma: float, prediction_type: str) -> Tensor:
    """Min-SNR-gamma weights (Hang et al. 2023, eq. 9-11 and their v variant), snr: (B,) -> (B,).

    The loss on x0 weighted by min(snr, gamma), rewritten for the model's target:
    eps -> min(snr, gamma) / snr;  x0 -> min(snr, gamma);  v -> min(snr, gamma) / (snr + 1).
    For eps, min(snr, gamma) / snr = min(1, gamma / snr), which is 1 at snr = 0.
    """
    if prediction_type == "eps":
        return (gamma / snr).clamp(max=1.0)
    clipped = snr.clamp(max=gamma)
    if prediction_type == "x0":
        return clipped
    return clipped / (snr + 1.0)


def x0_weight(weighting: str, t: Tensor, process: NoiseProcess, gamma: float, sigma_data: float, bias: float) -> Tensor:
    """w_x0(t) of `weighting` (see the module docstring), t: (B,) -> (B,) float32."""
    snr = process.snr(t).float()
    if weighting == "min_snr":
        return snr.clamp(max=gamma)
    if weighting == "edm":  # (sigma_ve^2 + sd^2) / (sigma_ve sd)^2 with sigma_ve^2 = 1 / snr
        return snr + 1.0 / sigma_data**2
    return 1.0 / (1.0 / snr + math.exp(-bias))  # = snr sigmoid(b - log snr), finite at snr = 0 and inf


class WeightedLoss(Loss):
    """L = mean_b [ w(t_b) * mean_{c,h,w} penalty(output, target)_b ].

    Args:
        weighting: none | min_snr | edm | sigmoid (the module docstring gives each w).
        snr_gamma: gamma of min-SNR-gamma (5 in Hang et al.).
    """

    #: b of the sigmoid weighting.
    sigmoid_bias: float = 0.0
    #: True for a penalty that is the squared error, the only one the weightings are derived for
    #: (the built-in losses plugin refuses any other weighting than none for the others).
    squared_error: bool = False

    def __init__(self, *, weighting: str = "none", snr_gamma: float = 5.0) -> None:
        super().__init__()
        if weighting not in WEIGHTINGS:
            raise ConfigError(f"loss.weighting={weighting!r} is not allowed; use one of {', '.join(WEIGHTINGS)}")
        if isinstance(snr_gamma, bool) or not isinstance(snr_gamma, (int, float)) or snr_gamma <= 0:
            raise ConfigError(f"loss.snr_gamma={snr_gamma!r} is not allowed; use a number > 0")
        self.weighting, self.snr_gamma = weighting, float(snr_gamma)

    @abstractmethod
    def penalty(self, output: Tensor, target: Tensor) -> Tensor:
        """output, target: (B, C, H, W) -> elementwise penalty (B, C, H, W)."""

    def weight(self, t: Tensor, scheduler: NoiseProcess) -> Tensor | None:
        """w(t): (B,), or None for the unweighted mean."""
        if self.weighting == "none":
            return None
        kind = scheduler.prediction_type
        if self.weighting == "min_snr" and kind in ("eps", "x0", "v") and scheduler.variance_preserving:
            return min_snr_weight(scheduler.snr(t).float(), self.snr_gamma, kind)
        w_x0 = x0_weight(self.weighting, t, scheduler, self.snr_gamma, scheduler.sigma_data, self.sigmoid_bias)
        return w_x0 * scheduler.x0_scale(t).float().square()

    def forward(self, output: Tensor, target: Tensor, t: Tensor, scheduler: NoiseProcess) -> Tensor:
        per_sample = self.penalty(output, target).flatten(1).mean(1)
        w = self.weight(t, scheduler)
        return per_sample.mean() if w is None else (w * per_sample).mean()

    def extra_repr(self) -> str:
        return f"weighting={self.weighting!r}, snr_gamma={self.snr_gamma}"
