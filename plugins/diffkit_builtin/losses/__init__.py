"""Built-in losses."""

from diffkit import hookimpl
from diffkit.registry import Registry

from .l1 import L1Loss


@hookimpl
def diffkit_register_components(registry: Registry) -> None:
    registry.add("loss", "l1", L1Loss)
