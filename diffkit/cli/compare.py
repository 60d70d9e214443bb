"""``diffkit compare DIR... [--by KEY...] [--runs] [--format markdown|csv|json] [--sort COLUMN]``:
a table of the hyperparameters that differ between runs and their final metrics.

Runs that differ only in ``seed`` (or in what ``--by`` leaves out) form a group; each
metric shows its mean, standard deviation and n over the group, and letters that
say which groups are within noise of each other (``diffkit.sweep.spread``).
"""

from __future__ import annotations

import argparse
import sys

from diffkit.errors import ConfigError
from diffkit.sweep import FORMATS, find_runs, render, table
from diffkit.sweep.board import comparison_text, write_comparison
from diffkit.sweep.groups import display, group_keys, grouped_table, worth_grouping
from diffkit.sweep.spread import LEGEND


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("compare", help="compare runs or sweeps: differing hyperparameters and final metrics")
    p.add_argument("dirs", nargs="+", metavar="DIR", help="run directories, or directories holding runs (sweeps)")
    p.add_argument("--by", nargs="+", metavar="KEY",
                   help="group runs by these hyperparameters (default: every differing one but seed)")
    p.add_argument("--runs", action="store_true", help="one row per run, no groups")
    p.add_argument("--format", choices=FORMATS, default="markdown")
    p.add_argument("--sort", metavar="COLUMN", help="sort by a metric (e.g. eval/fid) or hyperparameter")
    p.add_argument("--descending", action="store_true", help="largest first")
    p.add_argument("--all", action="store_true", help="one row per run with every hyperparameter, not only those that differ")
    p.add_argument("--tensorboard", action="store_true",
                   help="also write the table for TensorBoard's text dashboard, into DIR's last completed run (one DIR)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if (args.runs or args.all) and args.by:
        raise ConfigError(f"{'--runs' if args.runs else '--all'} shows one row per run; --by groups them: use one of the two")
    if args.tensorboard and len(args.dirs) != 1:
        raise ConfigError("--tensorboard writes into the one DIR it compares; pass a single sweep directory")
    records = find_runs(args.dirs)
    grouped = not (args.runs or args.all) and (bool(args.by) or worth_grouping(records, group_keys(records, None)))
    if not grouped:
        print(render(*table(records, args.sort, args.descending, args.all), args.format), end="")
    else:
        columns, rows, metrics = grouped_table(records, args.by, args.sort, args.descending)
        if args.format == "markdown":
            print(render(*display(columns, rows, metrics), "markdown") + "\n" + LEGEND)
        else:
            print(render(columns, rows, args.format), end="")
    if args.tensorboard:
        path = write_comparison(args.dirs[0], comparison_text(records, args.by, args.sort, args.descending))
        if path is None:
            raise ConfigError(f"--tensorboard: {args.dirs[0]} has no run to hold the table")
        print(f"diffkit: wrote the table to {path} (TensorBoard: TEXT)", file=sys.stderr)
    return 0
