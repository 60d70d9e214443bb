"""``diffkit compare DIR... [--by KEY...] [--runs] [--format markdown|csv|json] [--sort COLUMN]
[--plot OUT.png] [--allow-incomparable]``: arms of runs with interval estimates and a verdict
per pair of arms (``diffkit.sweep.summary``), or a table of runs.

Runs that differ only in ``seed`` (or in what ``--by`` leaves out) form an arm; each
metric shows its mean with a 95 % interval over seeds, and each pair of arms gets a
verdict (``diffkit.sweep.verdicts``). Runs whose metric numbers are not comparable
(``diffkit.sweep.comparable``) are refused unless ``--allow-incomparable``.
"""

from __future__ import annotations

import argparse
import sys

from diffkit.errors import ConfigError, closest
from diffkit.sweep import FORMATS, find_runs, render, table
from diffkit.sweep.board import write_comparison
from diffkit.sweep.summary import report, result_metrics


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "compare", help="compare runs or sweeps: interval estimates and verdicts per pair of arms"
    )
    p.add_argument("dirs", nargs="+", metavar="DIR", help="run directories, or directories holding runs (sweeps)")
    p.add_argument(
        "--by",
        nargs="+",
        metavar="KEY",
        help="group runs by these hyperparameters (default: every differing one but seed)",
    )
    p.add_argument("--runs", action="store_true", help="one row per run, no groups")
    p.add_argument("--format", choices=FORMATS, default="markdown")
    p.add_argument("--sort", metavar="COLUMN", help="the primary metric (e.g. eval/fid; default eval/fid), or a key")
    p.add_argument("--descending", action="store_true", help="largest first (with --runs or --all)")
    p.add_argument(
        "--all", action="store_true", help="one row per run with every hyperparameter, not only those that differ"
    )
    p.add_argument("--plot", metavar="OUT.png", help="also draw the interval estimates per arm and metric into OUT.png")
    p.add_argument(
        "--allow-incomparable",
        action="store_true",
        help="compare metrics scored in different feature spaces, reference sets or NFE (says what differs)",
    )
    p.add_argument(
        "--tensorboard",
        action="store_true",
        help="also write the comparison for TensorBoard (TEXT and IMAGES), into DIR's last completed run (one DIR)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if (args.runs or args.all) and args.by:
        raise ConfigError(
            f"{'--runs' if args.runs else '--all'} shows one row per run; --by groups them: use one of the two"
        )
    if args.tensorboard and len(args.dirs) != 1:
        raise ConfigError("--tensorboard writes into the one DIR it compares; pass a single sweep directory")
    records = find_runs(args.dirs)
    if args.runs or args.all:
        print(render(*table(records, args.sort, args.descending, args.all), args.format), end="")
    else:
        if args.sort is not None:
            _check_sort(records, args.sort)
        print(report(records, args.by, args.sort, args.format, args.allow_incomparable), end="")
    if args.plot:
        from diffkit.sweep.plot import plot_comparison

        path = plot_comparison(records, args.plot, args.by, args.sort)
        print(f"diffkit: wrote {path}", file=sys.stderr)
    if args.tensorboard:
        holder = write_comparison(
            args.dirs[0], records=records, by=args.by, sort=args.sort, allow_incomparable=args.allow_incomparable
        )
        if holder is None:
            raise ConfigError(f"--tensorboard: {args.dirs[0]} has no run to hold the comparison")
        print(f"diffkit: wrote the comparison to {holder} (TensorBoard: TEXT and IMAGES)", file=sys.stderr)
    return 0


def _check_sort(records: list, sort: str) -> None:
    known = [*result_metrics(records), *dict.fromkeys(k for r in records for k in r.hparams)]
    if sort not in known:
        hint = closest(sort, known)
        raise ConfigError(
            f"--sort {sort!r} is not a metric or key of these runs; "
            + (f"{hint} " if hint else "")
            + f"metrics: {', '.join(result_metrics(records))}"
        )
