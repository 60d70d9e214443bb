"""Per-timestep loss weights, and the base class that applies them to any per-pixel penalty.

A built-in or third-party loss gets the ``weighting`` and ``snr_gamma`` options by
subclassing :class:`WeightedLoss` and implementing ``penalty`` (one formula); the
base class reduces it per sample, multiplies by w(t) and averages over the batch.
"""

from __future__ import annotations

from abc import abstractmethod

from omegaconf import DictConfig
from torch import Tensor

from diffkit.errors import ConfigError
from diffkit.interfaces import Loss, Scheduler
from diffkit.registry import Registry

WEIGHTINGS = ("none", "min_snr")


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


def check_weighting(cfg: DictConfig, registry: Registry) -> None:
    """Refuse min-SNR weighting for a penalty other than the squared error.

    The weights rescale ||x0 - x0_hat||^2 = ||eps - eps_hat||^2 / snr, a relation of
    squared errors; for |r| (L1) or Huber, x0 errors scale by 1 / sqrt(snr), so the
    same weights no longer give min(snr, gamma) in x0 space (Hang et al. 2023 derive
    them for L2 only).
    """
    cls = registry.get("loss", str(cfg.loss.name)).cls
    weighting = cfg.loss.get("weighting", "none")
    if weighting == "min_snr" and isinstance(cls, type) and issubclass(cls, WeightedLoss) and not cls.squared_error:
        raise ConfigError(
            f"loss.weighting=min_snr is derived for the squared error, not loss.name={cfg.loss.name}; "
            "use loss.name=l2 or loss.weighting=none"
        )


class WeightedLoss(Loss):
    """L = mean_b [ w(t_b) * mean_{c,h,w} penalty(output, target)_b ].

    Args:
        weighting: "none" (w = 1, the plain mean) or "min_snr" (:func:`min_snr_weight`,
            which depends on the scheduler's prediction type).
        snr_gamma: gamma of min-SNR-gamma (5 in Hang et al.).
    """

    #: True for a penalty that is the squared error, the only one min-SNR weights are derived for.
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

    def weight(self, t: Tensor, scheduler: Scheduler) -> Tensor | None:
        """w(t): (B,), or None for the unweighted mean."""
        if self.weighting == "none":
            return None
        return min_snr_weight(scheduler.snr(t).float(), self.snr_gamma, scheduler.prediction_type)

    def forward(self, output: Tensor, target: Tensor, t: Tensor, scheduler: Scheduler) -> Tensor:
        per_sample = self.penalty(output, target).flatten(1).mean(1)
        w = self.weight(t, scheduler)
        return per_sample.mean() if w is None else (w * per_sample).mean()

    def extra_repr(self) -> str:
        return f"weighting={self.weighting!r}, snr_gamma={self.snr_gamma}"
