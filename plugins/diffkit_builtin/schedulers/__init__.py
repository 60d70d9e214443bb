"""Built-in noise schedules."""

from diffkit import hookimpl
from diffkit.registry import Registry

from .cosine import CosineScheduler
from .edm import EDMProcess
from .linear import LinearScheduler
from .rectified_flow import RectifiedFlow
from .scaled_linear import ScaledLinearScheduler
from .sigmoid import SigmoidScheduler
from .vp_cosine import VPCosine


@hookimpl
def diffkit_register_components(registry: Registry) -> None:
    registry.add("scheduler", "linear", LinearScheduler)
    registry.add("scheduler", "cosine", CosineScheduler)
    registry.add("scheduler", "sigmoid", SigmoidScheduler)
    registry.add("scheduler", "scaled_linear", ScaledLinearScheduler)
    registry.add("scheduler", "edm", EDMProcess)
    registry.add("scheduler", "rectified_flow", RectifiedFlow)
    registry.add("scheduler", "vp_cosine", VPCosine)
