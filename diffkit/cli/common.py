"""Helpers shared by the commands: argument parsing and the options every command shares."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from diffkit.api import Run, open_run
from diffkit.errors import ConfigError


class Parser(argparse.ArgumentParser):
    """argparse that reports usage errors on one line and exits with code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        print(f"{self.prog}: error: {message} (see `{self.prog} --help`)", file=sys.stderr)
        raise SystemExit(2)


def add_plugin_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-p",
        dest="plugins",
        action="append",
        default=[],
        metavar="MODULE",
        help="load plugin MODULE for this run (repeatable); -p no:NAME blocks plugin NAME",
    )


def split_config_and_overrides(items: Sequence[str]) -> tuple[str | None, list[str]]:
    """``[CONFIG] [key=value ...]`` -> (CONFIG or None, overrides)."""
    paths = [i for i in items if "=" not in i]
    overrides = [i for i in items if "=" in i]
    if len(paths) > 1:
        raise ConfigError(f"expected at most one config file, got {', '.join(paths)} (overrides are key=value)")
    return (paths[0] if paths else None), overrides


def existing_dir(text: str) -> Path:
    path = Path(text)
    if not path.is_dir():
        raise ConfigError(f"run directory not found: {path}")
    return path


def add_restore_options(parser: argparse.ArgumentParser) -> None:
    """Options of the commands that rebuild a trained model from a run's checkpoint."""
    parser.add_argument("--checkpoint", help="a checkpoint file (default: the run's latest)")
    parser.add_argument("--no-ema", action="store_true", help="use the raw weights even when EMA weights exist")
    parser.add_argument("--device", default="auto")
    parser.add_argument(
        "--allow-changes",
        action="store_true",
        help="allow overrides that change what the checkpoint means (schedule, T, image size, "
        "denoiser, data); scores of a model so changed are not stored",
    )
    add_plugin_option(parser)


def open_from_args(args: argparse.Namespace, overrides: Sequence[str]) -> Run:
    """The run named by ``RUN_DIR`` with the restore options."""
    return open_run(
        existing_dir(args.run_dir),
        overrides,
        plugins=args.plugins,
        checkpoint=args.checkpoint,
        use_ema=not args.no_ema,
        device=args.device,
        allow_changes=args.allow_changes,
    )
