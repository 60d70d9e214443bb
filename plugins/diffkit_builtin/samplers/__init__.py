"""Built-in samplers."""

from diffkit import hookimpl
from diffkit.registry import Registry

from .ddpm import DDPMSampler


@hookimpl
def diffkit_register_components(registry: Registry) -> None:
    registry.add("sampler", "ddpm", DDPMSampler)
