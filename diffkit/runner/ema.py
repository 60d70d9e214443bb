"""The run's weight average, built by name from the ``ema`` config node."""

from __future__ import annotations

from omegaconf import DictConfig
from torch import nn

from diffkit.config.schema import EMA_RUNNER_KEYS
from diffkit.interfaces.ema import EMA
from diffkit.registry import Registry
from diffkit.runner.build import node


def build_ema(registry: Registry, cfg: DictConfig, model: nn.Module) -> EMA | None:
    """The EMA component ``cfg.ema`` names, averaging `model`; None when its parameters switch
    averaging off (``exponential`` with ``decay: 0``, the default)."""
    params = {k: v for k, v in node(cfg, "ema").items() if k not in EMA_RUNNER_KEYS}
    ema = registry.build("ema", params, where="ema", model=model)
    return ema if ema.enabled else None


def use_for_sampling(cfg: DictConfig) -> bool:
    """``ema.use_for_sampling`` (true when absent)."""
    return bool(cfg.ema.get("use_for_sampling", True))


def check_ema(registry: Registry, cfg: DictConfig) -> list[str]:
    """Build the ``ema`` node on a stand-in model, so that a bad parameter fails before the
    data loads (``diffkit config`` too); the warnings it finds (none at present)."""
    build_ema(registry, cfg, nn.Linear(1, 1))
    return []
