"""``diffkit train [CONFIG] [key=value ...] [--resume RUN_DIR]``"""

from __future__ import annotations

import argparse
import signal

import diffkit.api as api
from diffkit.cli.common import add_plugin_option, split_config_and_overrides
from diffkit.errors import ConfigError
from diffkit.runner import rundir
from diffkit.runner.distributed import DistEnv


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("train", help="train a model; prints the run directory")
    p.add_argument("items", nargs="*", metavar="[CONFIG] [key=value]", help="a YAML config and/or overrides")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue the run in RUN_DIR from its last checkpoint")
    p.add_argument(
        "--allow-changes",
        action="store_true",
        help="with --resume: allow overrides that change what the checkpoint means (schedule, T, "
        "image size, denoiser, data), e.g. to fine-tune; recorded in RUN_DIR/history.json",
    )
    add_plugin_option(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    config, overrides = split_config_and_overrides(args.items)
    if args.resume:
        if config:
            raise ConfigError("--resume uses the run's saved config; pass only key=value overrides")
        trained = api.resume(args.resume, overrides, allow_changes=args.allow_changes, plugins=args.plugins)
    elif args.allow_changes:
        raise ConfigError("--allow-changes goes with --resume RUN_DIR")
    else:
        trained = api.train(config, overrides, plugins=args.plugins)
    if DistEnv.from_env().is_main:
        print(trained.dir)
    status = rundir.read_json(trained.dir / rundir.STATUS)
    if status.get("status") == "interrupted":  # 128 + signal, like a shell: scripts see the run did not finish
        return 128 + int(status.get("signal") or signal.SIGTERM)
    return 0
