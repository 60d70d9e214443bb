"""``diffkit sweep SWEEP.yaml [launcher.key=value ...] [--launcher NAME] [--dry-run] [--jobs N]
[--dir DIR]``: run every combination of a grid of config values, each in its own
directory, resumably, here or on a cluster; ``diffkit sweep --status DIR`` shows where it stands."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from diffkit.cli.common import add_plugin_option
from diffkit.cli.sweep_posthoc import score_posthoc
from diffkit.config import compose, parse_overrides
from diffkit.errors import ConfigError
from diffkit.interfaces.launcher import Launcher
from diffkit.plugin_manager import load_plugins, plugin_specs, warn_failures
from diffkit.sweep import execute, find_runs, load_sweep, plan, render
from diffkit.sweep.board import comparison_text
from diffkit.sweep.check import check_runs
from diffkit.sweep.execute import make_job
from diffkit.sweep.spec import RunSpec, Sweep
from diffkit.sweep.status import status_table


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("sweep", help="run a grid of configs, here or on a cluster (see docs/ablations.md)")
    p.add_argument(
        "sweep_file", nargs="?", metavar="SWEEP.yaml", help="a file with base, overrides, grid, dir, launcher"
    )
    p.add_argument(
        "overrides", nargs="*", metavar="launcher.key=value", help="launcher settings, e.g. launcher.partition=gpu"
    )
    p.add_argument(
        "--launcher", metavar="NAME", help="where the runs train: local (default), inline, submitit, or a plugin's"
    )
    p.add_argument(
        "--dry-run", action="store_true", help="check every run's config, list the runs and what would happen to each"
    )
    p.add_argument(
        "--jobs", type=int, help="runs trained at once on this machine by the local or inline launcher (default 1)"
    )
    p.add_argument("--dir", help="the sweep directory (default: the file's dir key, else runs/sweeps/<file stem>)")
    p.add_argument("--status", metavar="DIR", help="show the state of each run of the sweep in DIR and exit")
    add_plugin_option(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.status:
        if args.sweep_file:
            raise ConfigError("--status DIR takes no sweep file")
        print(render(*status_table(_dir(args.status))), end="")
        return 0
    if not args.sweep_file:
        raise ConfigError("name a sweep file (diffkit sweep SWEEP.yaml) or a sweep directory (--status DIR)")
    sweep = load_sweep(args.sweep_file, args.dir)
    launcher = build_launcher(sweep, args)
    check_runs(sweep, args.plugins)  # before anything starts or is submitted
    if args.dry_run:
        print(f"# {len(sweep.runs)} runs in {sweep.dir}")
        actions = {spec.name: plan(sweep, spec) for spec in sweep.runs}
        for spec in sweep.runs:
            print(f"{actions[spec.name]:<6} {spec.name}    {' '.join(sweep.run_overrides(spec))}")
        todo = [make_job(sweep, s, args.plugins) for s in sweep.runs if actions[s.name] != "skip"]
        about = launcher.describe(todo)
        if about:
            print("# launcher " + str(getattr(launcher, "build_config", {}).get("name", "")) + ":\n" + about.rstrip())
        return 0
    try:
        results = execute(sweep, launcher, args.plugins)
    except KeyboardInterrupt as e:
        why = f" by {e}" if str(e).startswith("SIG") else ""
        print(f"diffkit sweep: interrupted{why}; re-run to continue: diffkit sweep {args.sweep_file}", file=sys.stderr)
        return 143 if str(e) == "SIGTERM" else 130
    if sweep.posthoc_ema:  # the EMA-length axis, scored post hoc
        score_posthoc(sweep, args.plugins)
    finished = [r for r in results if (sweep.dir / r.name / "config.yaml").is_file()]
    if finished:
        print(comparison_text(find_runs([str(sweep.dir)])), end="")  # the table diffkit compare prints
    failed = [r for r in results if r.status != "completed"]
    counts = {a: sum(r.action == a for r in results) for a in ("skip", "resume", "start")}
    print(
        f"diffkit sweep: {len(results) - len(failed)}/{len(results)} completed ({counts['skip']} skipped, "
        f"{counts['resume']} resumed, {counts['start']} started); summary in {sweep.dir / 'sweep.json'}",
        file=sys.stderr,
    )
    return 1 if failed else 0


def launcher_node(sweep: Sweep, args: argparse.Namespace) -> dict[str, Any]:
    """The sweep file's ``launcher``, renamed by --launcher, then ``launcher.*`` overrides and --jobs."""
    node = dict(sweep.launcher) or {"name": "local"}
    if args.launcher and args.launcher != node.get("name"):
        node = {"name": args.launcher}
    stray = [o for o in args.overrides if not o.startswith("launcher.")]
    if stray:
        raise ConfigError(
            f"diffkit sweep takes only launcher.KEY=VALUE settings, got {stray[0]!r}; "
            "set config keys in the sweep file's overrides or grid"
        )
    node.update(parse_overrides(args.overrides).get("launcher", {}))
    if args.jobs is not None:
        if node.get("name") not in ("local", "inline"):
            raise ConfigError(
                f"--jobs is for the local and inline launchers; with {node.get('name')!r} set its own options "
                "(e.g. launcher.array_parallelism=N for submitit)"
            )
        if args.jobs < 1:
            raise ConfigError(f"--jobs {args.jobs} must be >= 1")
        node["jobs"] = args.jobs
    return node


def build_launcher(sweep: Sweep, args: argparse.Namespace) -> Launcher:
    """The launcher the sweep names, from the plugins of -p and of the sweep's run.plugins."""
    base = str(sweep.base) if sweep.base else None
    config_plugins = list(compose(base, sweep.run_overrides(RunSpec("base", {}))).cfg.run.plugins)
    plugins = load_plugins(plugin_specs(args.plugins, config_plugins))
    warn_failures(plugins)
    return plugins.registry.build("launcher", launcher_node(sweep, args), where="launcher")


def _dir(text: str) -> Path:
    path = Path(text)
    if not path.is_dir():
        raise ConfigError(f"sweep directory not found: {path}")
    return path
