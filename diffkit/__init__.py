"""diffkit: a plugin-based experimentation framework for denoising diffusion models.

Users: ``diffkit.train``, ``diffkit.resume``, ``diffkit.open_run`` and ``diffkit.compose``
(see ``docs/howto/python-api.md``). Plugin authors: ``hookimpl`` to mark hook functions,
the component base classes to subclass, and the errors to raise.

Names are imported when first used, so ``import diffkit`` is cheap and a Ctrl-C while
the command line starts is one line, not a traceback from inside torch's import.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from diffkit.version import __version__ as __version__

#: public name -> the module that defines it.
_EXPORTS = {
    **dict.fromkeys(
        [
            "CheckpointError",
            "ConfigError",
            "DataError",
            "DiffkitError",
            "PluginError",
            "PluginValidationError",
            "UnknownComponentError",
        ],
        "diffkit.errors",
    ),
    **dict.fromkeys(["hookimpl", "hookspec"], "diffkit.hookspecs"),
    **dict.fromkeys(
        [
            "ContinuousProcess",
            "Dataset",
            "Denoiser",
            "EMA",
            "ImageData",
            "Job",
            "Launcher",
            "Loss",
            "Metric",
            "NoiseProcess",
            "RunContext",
            "Sampler",
            "Scheduler",
            "TimeEmbedding",
            "WeightedLoss",
            "extract",
        ],
        "diffkit.interfaces",
    ),
    **dict.fromkeys(["PLUGIN_API_VERSION", "load_plugins"], "diffkit.plugin_manager"),
    "Registry": "diffkit.registry",
    **dict.fromkeys(["Config", "Run", "compose", "open_run", "resume", "train"], "diffkit.api"),
}

__all__ = sorted([*_EXPORTS, "__version__"])


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'diffkit' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__


if TYPE_CHECKING:  # the names above, for type checkers and editors
    from diffkit.api import Config, Run, compose, open_run, resume, train  # noqa: F401
    from diffkit.errors import (  # noqa: F401
        CheckpointError,
        ConfigError,
        DataError,
        DiffkitError,
        PluginError,
        PluginValidationError,
        UnknownComponentError,
    )
    from diffkit.hookspecs import hookimpl, hookspec  # noqa: F401
    from diffkit.interfaces import (  # noqa: F401
        EMA,
        ContinuousProcess,
        Dataset,
        Denoiser,
        ImageData,
        Job,
        Launcher,
        Loss,
        Metric,
        NoiseProcess,
        RunContext,
        Sampler,
        Scheduler,
        TimeEmbedding,
        WeightedLoss,
        extract,
    )
    from diffkit.plugin_manager import PLUGIN_API_VERSION, load_plugins  # noqa: F401
    from diffkit.registry import Registry  # noqa: F401
