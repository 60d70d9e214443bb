"""Built-in sample-quality metrics."""

from diffkit import hookimpl
from diffkit.registry import Registry

from .frechet import FID
from .precision_recall import PrecisionRecall


@hookimpl
def diffkit_register_components(registry: Registry) -> None:
    registry.add("metric", "fid", FID)
    registry.add("metric", "precision_recall", PrecisionRecall)
