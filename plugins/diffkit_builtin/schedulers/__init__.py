"""Built-in noise schedules."""

from diffkit import hookimpl
from diffkit.registry import Registry

from .cosine import CosineScheduler
from .linear import LinearScheduler
from .scaled_linear import ScaledLinearScheduler
from .sigmoid import SigmoidScheduler


@hookimpl
def diffkit_register_components(registry: Registry) -> None:
    registry.add("scheduler", "linear", LinearScheduler)
    registry.add("scheduler", "cosine", CosineScheduler)
    registry.add("scheduler", "sigmoid", SigmoidScheduler)
    registry.add("scheduler", "scaled_linear", ScaledLinearScheduler)
