"""diffkit-example: one component of each kind, registered through the ``diffkit`` entry point."""

from diffkit import Registry, hookimpl

from .convnet import ConvNet
from .geometric import GeometricScheduler
from .pseudo_huber import PseudoHuberLoss
from .rbf import RBFEmbedding
from .strided import StridedSampler

#: the diffkit plugin-API version this package was written for; diffkit refuses it if incompatible.
DIFFKIT_PLUGIN_API = "1.0"


@hookimpl
def diffkit_register_components(registry: Registry) -> None:
    registry.add("scheduler", "example_geometric", GeometricScheduler)
    registry.add("time_embedding", "example_rbf", RBFEmbedding)
    registry.add("denoiser", "example_convnet", ConvNet)
    registry.add("loss", "example_pseudo_huber", PseudoHuberLoss)
    registry.add("sampler", "example_strided", StridedSampler)
