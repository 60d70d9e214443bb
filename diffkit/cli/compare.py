"""``diffkit compare DIR... [--format markdown|csv|json] [--sort COLUMN]``: a table of
the hyperparameters that differ between runs and their final metrics."""

from __future__ import annotations

import argparse

from diffkit.sweep import FORMATS, find_runs, render, table


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("compare", help="compare runs or sweeps: differing hyperparameters and final metrics")
    p.add_argument("dirs", nargs="+", metavar="DIR", help="run directories, or directories holding runs (sweeps)")
    p.add_argument("--format", choices=FORMATS, default="markdown")
    p.add_argument("--sort", metavar="COLUMN", help="sort by a metric (e.g. eval/fid) or hyperparameter")
    p.add_argument("--descending", action="store_true", help="largest first")
    p.add_argument("--all", action="store_true", help="show every hyperparameter, not only those that differ")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    records = find_runs(args.dirs)
    columns, rows = table(records, args.sort, args.descending, args.all)
    print(render(columns, rows, args.format), end="")
    return 0
