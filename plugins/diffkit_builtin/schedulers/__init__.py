"""Built-in noise schedules."""

from diffkit import hookimpl
from diffkit.registry import Registry

from .linear import LinearScheduler


@hookimpl
def diffkit_register_components(registry: Registry) -> None:
    registry.add("scheduler", "linear", LinearScheduler)
