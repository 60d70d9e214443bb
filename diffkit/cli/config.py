"""``diffkit config [CONFIG] [key=value ...]``: check and print the resolved config.

Every component is built once (the denoiser for a placeholder channel count,
metrics without computing anything), so an unknown name, key or a bad value
fails here with the same one-line error and exit code 2 as ``diffkit train``.
"""

from __future__ import annotations

import argparse

import torch
from omegaconf import DictConfig, OmegaConf

from diffkit.cli.common import add_plugin_option, compose_with, plugins_for, split_config_and_overrides
from diffkit.config import validate
from diffkit.runner.checks import check, report
from diffkit.plugin_manager import Plugins
from diffkit.runner.build import build_components, build_dataset
from diffkit.runner.evaluate import Evaluator

#: the channel count the denoiser is built for; the data's is known only once it loads.
PLACEHOLDER_CHANNELS = 3


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("config", help="check a config (every component is built) and print it resolved")
    p.add_argument("items", nargs="*", metavar="[CONFIG] [key=value]")
    add_plugin_option(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    config, overrides = split_config_and_overrides(args.items)
    plugins = plugins_for(config, overrides, args.plugins)
    composed = compose_with(plugins, config, overrides)
    validate(composed)
    check_buildable(plugins, composed.cfg)
    report(check(composed.cfg, plugins))
    print(OmegaConf.to_yaml(composed.cfg, resolve=True), end="")
    return 0


def check_buildable(plugins: Plugins, cfg: DictConfig) -> None:
    """Build every component `cfg` names, without loading data; raise what train would."""
    plugins.hooks(cfg.run.on_hook_error)
    build_dataset(plugins.registry, cfg)
    num_classes = 2 if cfg.train.conditional else 0
    build_components(plugins.registry, cfg, PLACEHOLDER_CHANNELS, num_classes)
    if cfg.eval.metrics:
        Evaluator(plugins.registry, cfg, torch.device("cpu"))
