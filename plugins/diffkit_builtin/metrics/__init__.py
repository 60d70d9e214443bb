"""Built-in sample-quality metrics."""

from diffkit import hookimpl
from diffkit.registry import Registry

from .frechet import FID
from .nll import NLL
from .precision_recall import PrecisionRecall
from .score_error import ScoreError
from .w2 import W2


@hookimpl
def diffkit_register_components(registry: Registry) -> None:
    registry.add("metric", "fid", FID)
    registry.add("metric", "precision_recall", PrecisionRecall)
    registry.add("metric", "w2", W2)
    registry.add("metric", "score_error", ScoreError)
    registry.add("metric", "nll", NLL)
