"""Moved to the core: :mod:`diffkit.interfaces.timesteps` (public plugin API)."""

from diffkit.interfaces.timesteps import SPACINGS, check_spacing, schedule, spaced_timesteps

__all__ = ["SPACINGS", "check_spacing", "schedule", "spaced_timesteps"]
