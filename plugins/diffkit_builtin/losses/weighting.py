"""The refusal of loss weightings a penalty was not derived for.

The weighted-loss base itself is public plugin API: `diffkit.interfaces.weighting`.
"""

from __future__ import annotations

from omegaconf import DictConfig

from diffkit.errors import ConfigError
from diffkit.interfaces.weighting import WEIGHTINGS, WeightedLoss, min_snr_weight
from diffkit.registry import Registry

__all__ = ["WEIGHTINGS", "WeightedLoss", "check_weighting", "min_snr_weight"]


def check_weighting(cfg: DictConfig, registry: Registry) -> None:
    """Refuse a weighting other than ``none`` for a penalty other than the squared error.

    Every weighting is w_x0(t) on ||x0_hat - x0||^2 = k(t)^2 ||output - target||^2, a
    relation of squared errors (min-SNR: Hang et al. 2023 derive it for L2 only); for
    |r| (L1) or Huber, x0 errors scale by k, not k^2, so the same weights no longer give
    w_x0 in x0 space.
    """
    cls = registry.get("loss", str(cfg.loss.name)).cls
    weighting = cfg.loss.get("weighting", "none")
    if weighting != "none" and isinstance(cls, type) and issubclass(cls, WeightedLoss) and not cls.squared_error:
        raise ConfigError(
            f"loss.weighting={weighting} is derived for the squared error, not loss.name={cfg.loss.name}; "
            "use loss.name=l2 or loss.weighting=none"
        )
