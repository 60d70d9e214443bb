"""After ``diffkit sweep``: score each completed run at the sweep's ``posthoc_ema`` lengths."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from diffkit.api import open_run
from diffkit.runner import rundir
from diffkit.runner.posthoc import key
from diffkit.sweep.spec import Sweep


def scored(run_dir: Path, lengths: Sequence[float]) -> bool:
    """True when the run's metrics hold every length, scored at its final step."""
    step = rundir.read_json(run_dir / rundir.STATUS).get("step")
    metrics = rundir.read_json(run_dir / rundir.METRICS)
    return all(metrics.get(key("eval/checkpoint_step", s)) == step for s in lengths)


def score_posthoc(sweep: Sweep, plugins: Sequence[str]) -> None:
    """``diffkit eval RUN --ema LENGTHS`` (``Run.evaluate(ema=...)``) for every completed run not scored yet."""
    for spec in sweep.runs:
        run_dir = sweep.dir / spec.name
        done = rundir.read_json(run_dir / rundir.STATUS).get("status") == "completed"
        if done and not scored(run_dir, sweep.posthoc_ema):
            print(
                f"diffkit sweep: scoring {spec.name} at EMA lengths {', '.join(f'{s:g}' for s in sweep.posthoc_ema)}",
                file=sys.stderr,
            )
            open_run(run_dir, plugins=plugins).evaluate(ema=sweep.posthoc_ema)
