"""``diffkit new-plugin NAME [--dir DIR]``: write a ready-to-install plugin package."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from diffkit.errors import ConfigError
from diffkit.plugin_manager import PLUGIN_API_VERSION, load_plugins
from diffkit.scaffold import plugin_names, write_plugin
from diffkit.version import __version__


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "new-plugin", help="write a new plugin package (pyproject with the entry point, one loss, one test)"
    )
    p.add_argument("name", metavar="NAME", help="distribution name, e.g. my-loss (the loss is named my_loss)")
    p.add_argument("--dir", default=".", help="where to create the NAME directory (default: .)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    values = plugin_names(args.name)
    where = Path(args.dir)
    if where.exists() and not where.is_dir():
        raise ConfigError(f"--dir {where} is a file; name a directory to create the package in")
    taken = load_plugins().registry
    if values["component"] in taken.names("loss"):
        origin = taken.get("loss", values["component"]).origin
        raise ConfigError(f"loss {values['component']!r} already exists ({origin}); pick another NAME")
    values.update(diffkit_version=__version__, api=PLUGIN_API_VERSION)
    out = write_plugin(Path(args.dir) / args.name, values)
    print(out)
    print(
        f"diffkit: wrote plugin {values['dist']} with loss {values['component']!r}; next: "
        f"pip install -e {out} && diffkit plugins --kind loss && diffkit train loss.name={values['component']}",
        file=sys.stderr,
    )
    return 0
