"""Built-in weight averages: ``exponential`` and the post-hoc ``power`` EMA."""

from diffkit import hookimpl
from diffkit.registry import Registry

from .exponential import ExponentialEMA
from .power import PowerEMA


@hookimpl
def diffkit_register_components(registry: Registry) -> None:
    registry.add("ema", "exponential", ExponentialEMA)
    registry.add("ema", "power", PowerEMA)
