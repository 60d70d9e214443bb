"""Built-in denoisers."""

from diffkit import hookimpl
from diffkit.registry import Registry

from .mlp import MLPDenoiser
from .unet import SeedUNet
from .unet_adm import ADMUNet


@hookimpl
def diffkit_register_components(registry: Registry) -> None:
    registry.add("denoiser", "unet", SeedUNet)
    registry.add("denoiser", "unet_adm", ADMUNet)
    registry.add("denoiser", "mlp", MLPDenoiser)
