"""Moved to the core: :mod:`diffkit.interfaces.weighting` (public plugin API)."""

from diffkit.interfaces.weighting import WEIGHTINGS, WeightedLoss, min_snr_weight

__all__ = ["WEIGHTINGS", "WeightedLoss", "min_snr_weight"]
