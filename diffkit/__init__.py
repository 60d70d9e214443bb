"""diffkit: a plugin-based experimentation framework for denoising diffusion models.

Plugin authors need only this module: ``hookimpl`` to mark hook functions, the
component base classes to subclass, and the errors to raise.
"""

from diffkit.errors import (
    CheckpointError,
    ConfigError,
    DataError,
    DiffkitError,
    PluginError,
    PluginValidationError,
    UnknownComponentError,
)
from diffkit.hookspecs import hookimpl, hookspec
from diffkit.interfaces import (
    ContinuousProcess,
    Dataset,
    Denoiser,
    EMA,
    ImageData,
    Launcher,
    Loss,
    Metric,
    NoiseProcess,
    Sampler,
    Scheduler,
    TimeEmbedding,
    WeightedLoss,
    extract,
)
from diffkit.plugin_manager import PLUGIN_API_VERSION, load_plugins
from diffkit.registry import Registry

__version__ = "0.1.0"

__all__ = [
    "PLUGIN_API_VERSION",
    "CheckpointError",
    "ConfigError",
    "ContinuousProcess",
    "DataError",
    "Dataset",
    "Denoiser",
    "EMA",
    "DiffkitError",
    "ImageData",
    "Launcher",
    "Loss",
    "Metric",
    "NoiseProcess",
    "PluginError",
    "PluginValidationError",
    "Registry",
    "Sampler",
    "Scheduler",
    "TimeEmbedding",
    "UnknownComponentError",
    "WeightedLoss",
    "__version__",
    "extract",
    "hookimpl",
    "hookspec",
    "load_plugins",
]
