"""``diffkit sweep SWEEP.yaml [--dry-run] [--jobs N] [--dir DIR]``: run every
combination of a grid of config values, each in its own directory, resumably."""

from __future__ import annotations

import argparse
import sys

from diffkit.cli.common import add_plugin_option
from diffkit.errors import ConfigError
from diffkit.sweep import execute, find_runs, load_sweep, plan, render, table


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("sweep", help="run a grid of configs (see docs/ablations.md)")
    p.add_argument("sweep_file", metavar="SWEEP.yaml", help="a file with base, overrides, grid and optional dir")
    p.add_argument("--dry-run", action="store_true", help="list the runs and what would happen to each")
    p.add_argument("--jobs", type=int, default=1, help="runs trained at once (default 1)")
    p.add_argument("--dir", help="the sweep directory (default: the file's dir key, else runs/sweeps/<file stem>)")
    add_plugin_option(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.jobs < 1:
        raise ConfigError(f"--jobs {args.jobs} must be >= 1")
    sweep = load_sweep(args.sweep_file, args.dir)
    if args.dry_run:
        print(f"# {len(sweep.runs)} runs in {sweep.dir}")
        for spec in sweep.runs:
            print(f"{plan(sweep, spec):<6} {spec.name}    {' '.join(sweep.run_overrides(spec))}")
        return 0
    try:
        results = execute(sweep, args.jobs, args.plugins)
    except KeyboardInterrupt:
        print(f"diffkit sweep: interrupted; re-run to continue: diffkit sweep {args.sweep_file}", file=sys.stderr)
        return 130
    finished = [r for r in results if (sweep.dir / r.name / "config.yaml").is_file()]
    if finished:
        print(render(*table(find_runs([str(sweep.dir)]))), end="")
    failed = [r for r in results if r.status != "completed"]
    counts = {a: sum(r.action == a for r in results) for a in ("skip", "resume", "start")}
    print(
        f"diffkit sweep: {len(results) - len(failed)}/{len(results)} completed ({counts['skip']} skipped, "
        f"{counts['resume']} resumed, {counts['start']} started); summary in {sweep.dir / 'sweep.json'}",
        file=sys.stderr,
    )
    return 1 if failed else 0
