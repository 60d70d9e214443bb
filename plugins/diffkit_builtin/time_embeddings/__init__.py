"""Built-in time embeddings."""

from diffkit import hookimpl
from diffkit.registry import Registry

from .sinusoidal import SinusoidalEmbedding


@hookimpl
def diffkit_register_components(registry: Registry) -> None:
    registry.add("time_embedding", "sinusoidal", SinusoidalEmbedding)
