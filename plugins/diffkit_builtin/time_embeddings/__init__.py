"""Built-in time embeddings."""

from diffkit import hookimpl
from diffkit.registry import Registry

from .fourier import FourierEmbedding
from .learned import LearnedEmbedding
from .sinusoidal import SinusoidalEmbedding


@hookimpl
def diffkit_register_components(registry: Registry) -> None:
    registry.add("time_embedding", "sinusoidal", SinusoidalEmbedding)
    registry.add("time_embedding", "fourier", FourierEmbedding)
    registry.add("time_embedding", "learned", LearnedEmbedding)
