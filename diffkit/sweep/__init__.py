"""Sweeps over config values, and tables comparing runs."""

from diffkit.sweep.board import write_comparison
from diffkit.sweep.check import check_runs
from diffkit.sweep.collect import RunRecord, find_runs, table
from diffkit.sweep.execute import RunResult, execute, plan
from diffkit.sweep.job import RunJob
from diffkit.sweep.render import FORMATS, render
from diffkit.sweep.spec import RunSpec, Sweep, load_sweep
from diffkit.sweep.summary import report

__all__ = [
    "FORMATS",
    "RunJob",
    "RunRecord",
    "RunResult",
    "RunSpec",
    "Sweep",
    "check_runs",
    "execute",
    "find_runs",
    "load_sweep",
    "plan",
    "render",
    "report",
    "table",
    "write_comparison",
]
