"""A config checked as ``diffkit train`` would check it, without data or training:
every component is built once (the denoiser for a placeholder channel count, metrics
without computing anything), then the pre-flight checks of ``runner/checks.py`` run."""

from __future__ import annotations

import torch

from diffkit.config import Composed, validate
from diffkit.plugin_manager import Plugins
from diffkit.runner.build import build_components, build_dataset
from diffkit.runner.checks import check
from diffkit.runner.evaluate import Evaluator

#: the channel count the denoiser is built for; the data's is known only once it loads.
PLACEHOLDER_CHANNELS = 3


def preflight(composed: Composed, plugins: Plugins) -> list[str]:
    """Raise what ``train`` would raise for `composed` before it loads data; return the warnings."""
    validate(composed)
    cfg = composed.cfg
    plugins.hooks(cfg.run.on_hook_error)  # checks the policies and their plugin names
    build_dataset(plugins.registry, cfg)
    build_components(plugins.registry, cfg, PLACEHOLDER_CHANNELS, 2 if cfg.train.conditional else 0)
    if cfg.eval.metrics:
        Evaluator(plugins.registry, cfg, torch.device("cpu"))
    return check(cfg, plugins)
