"""Built-in denoisers."""

from diffkit import hookimpl
from diffkit.registry import Registry

from .unet import SeedUNet


@hookimpl
def diffkit_register_components(registry: Registry) -> None:
    registry.add("denoiser", "unet", SeedUNet)
