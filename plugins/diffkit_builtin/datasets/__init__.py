"""Built-in datasets."""

from diffkit import hookimpl
from diffkit.registry import Registry

from .checkerboard import Checkerboard
from .cifar10 import CIFAR10
from .digits import DigitsDataset
from .gmm2d import GaussianMixture
from .idx import MNIST, FashionMNIST
from .image_folder import ImageFolder
from .moons import Moons


@hookimpl
def diffkit_register_components(registry: Registry) -> None:
    registry.add("dataset", "digits", DigitsDataset)
    registry.add("dataset", "mnist", MNIST)
    registry.add("dataset", "fashion_mnist", FashionMNIST)
    registry.add("dataset", "cifar10", CIFAR10)
    registry.add("dataset", "image_folder", ImageFolder)
    registry.add("dataset", "gmm2d", GaussianMixture)
    registry.add("dataset", "moons", Moons)
    registry.add("dataset", "checkerboard", Checkerboard)
