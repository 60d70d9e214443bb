"""After ``diffkit sweep``: score each completed run at the sweep's ``posthoc_ema`` lengths."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from diffkit.runner import rundir
from diffkit.runner.posthoc import key
from diffkit.sweep.spec import Sweep


def scored(run_dir: Path, lengths: Sequence[float]) -> bool:
    """True when the run's metrics hold every length, scored at its final step."""
    step = rundir.read_json(run_dir / rundir.STATUS).get("step")
    metrics = rundir.read_json(run_dir / rundir.METRICS)
    return all(metrics.get(key("eval/checkpoint_step", s)) == step for s in lengths)


def score_posthoc(sweep: Sweep, plugins: Sequence[str]) -> None:
    """``diffkit eval RUN --ema LENGTHS`` for every completed run not scored yet."""
    from diffkit.cli.main import build_parser

    lengths = ",".join(f"{s:g}" for s in sweep.posthoc_ema)
    for spec in sweep.runs:
        run_dir = sweep.dir / spec.name
        done = rundir.read_json(run_dir / rundir.STATUS).get("status") == "completed"
        if done and not scored(run_dir, sweep.posthoc_ema):
            args = build_parser().parse_args(["eval", str(run_dir), "--ema", lengths, *(f"-p{p}" for p in plugins)])
            args.func(args)
