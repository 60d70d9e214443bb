"""``diffkit config [CONFIG] [key=value ...]``: print the resolved config."""

from __future__ import annotations

import argparse

from omegaconf import OmegaConf

from diffkit.cli.common import add_plugin_option, compose_with, plugins_for, split_config_and_overrides
from diffkit.config import validate
from diffkit.config.checks import check, report


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("config", help="print the resolved config")
    p.add_argument("items", nargs="*", metavar="[CONFIG] [key=value]")
    add_plugin_option(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    config, overrides = split_config_and_overrides(args.items)
    plugins = plugins_for(config, overrides, args.plugins)
    composed = compose_with(plugins, config, overrides)
    validate(composed)
    report(check(composed.cfg, plugins))
    print(OmegaConf.to_yaml(composed.cfg, resolve=True), end="")
    return 0
