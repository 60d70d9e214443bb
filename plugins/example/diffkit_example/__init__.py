"""diffkit-example: one component of each kind (and a discrete and a continuous scheduler), registered through the ``diffkit`` entry point."""

from diffkit import Registry, hookimpl

from .convnet import ConvNet
from .geometric import GeometricScheduler
from .pseudo_huber import PseudoHuberLoss
from .rbf import RBFEmbedding
from .strided import StridedSampler
from .vp_linear import VPLinearProcess

#: the diffkit plugin-API version this package was written for; diffkit refuses it if incompatible.
DIFFKIT_PLUGIN_API = "1.1"


@hookimpl
def diffkit_register_components(registry: Registry) -> None:
    registry.add("scheduler", "example_geometric", GeometricScheduler)
    registry.add("scheduler", "example_vp_linear", VPLinearProcess)
    registry.add("time_embedding", "example_rbf", RBFEmbedding)
    registry.add("denoiser", "example_convnet", ConvNet)
    registry.add("loss", "example_pseudo_huber", PseudoHuberLoss)
    registry.add("sampler", "example_strided", StridedSampler)
