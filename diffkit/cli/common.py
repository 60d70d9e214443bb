"""Helpers shared by the commands: argument parsing, plugin loading, config composition."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from diffkit.config import Composed, compose, read_yaml
from diffkit.errors import ConfigError
from diffkit.plugin_manager import Plugins, load_plugins, plugin_specs, warn_failures
from diffkit.runner import rundir
from diffkit.runner.restore import Restored, restore


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


def plugins_for(config: str | None, overrides: Sequence[str], cli_plugins: Sequence[str], base: dict | None = None) -> Plugins:
    """Load plugins named by -p and by the config's ``run.plugins``; warn about failures."""
    first = compose(config, overrides, base=base)
    plugins = load_plugins(plugin_specs(cli_plugins, list(first.cfg.run.plugins)))
    warn_failures(plugins)
    return plugins


def compose_with(plugins: Plugins, config: str | None, overrides: Sequence[str], base: dict | None = None) -> Composed:
    composed = compose(config, overrides, plugins.registry, base=base)
    for note in composed.notes:
        print(f"diffkit: note: {note}", file=sys.stderr)
    return composed


def config_stem(config: str | None) -> str:
    return Path(config).stem if config else "default"


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
    add_plugin_option(parser)


def restore_run(args: argparse.Namespace, run_dir: Path, overrides: Sequence[str]) -> tuple[Plugins, Restored]:
    """Load the plugins the run's saved config names, then its checkpoint and model."""
    saved = run_dir / rundir.CONFIG
    plugins = plugins_for(None, overrides, args.plugins, base=read_yaml(saved) if saved.is_file() else None)
    checkpoint = Path(args.checkpoint) if args.checkpoint else None
    return plugins, restore(run_dir, plugins, list(overrides), checkpoint, args.no_ema)
