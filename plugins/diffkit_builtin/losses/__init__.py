"""Built-in losses."""

from omegaconf import DictConfig

from diffkit import hookimpl
from diffkit.registry import Registry

from .huber import HuberLoss
from .l1 import L1Loss
from .l2 import L2Loss
from .weighting import check_weighting


@hookimpl
def diffkit_register_components(registry: Registry) -> None:
    registry.add("loss", "l1", L1Loss)
    registry.add("loss", "l2", L2Loss)
    registry.add("loss", "huber", HuberLoss)


@hookimpl
def diffkit_check_config(cfg: DictConfig, registry: Registry) -> list[str]:
    check_weighting(cfg, registry)
    return []
