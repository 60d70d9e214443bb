"""Sweeps over config values, and tables comparing runs."""

from diffkit.sweep.board import write_comparison
from diffkit.sweep.collect import RunRecord, find_runs, table
from diffkit.sweep.execute import RunResult, execute, plan
from diffkit.sweep.groups import grouped_table
from diffkit.sweep.render import FORMATS, render
from diffkit.sweep.spec import RunSpec, Sweep, load_sweep

__all__ = [
    "FORMATS",
    "RunRecord",
    "RunResult",
    "RunSpec",
    "Sweep",
    "execute",
    "find_runs",
    "grouped_table",
    "load_sweep",
    "plan",
    "render",
    "table",
    "write_comparison",
]
