"""The comparison table of a sweep in TensorBoard's text dashboard: event files in
``<sweep dir>/comparison`` (a run of its own, next to the sweep's runs)."""

from __future__ import annotations

import time
from pathlib import Path

from diffkit.runner import rundir
from diffkit.sweep.collect import RunRecord, find_runs, sort_rows, table
from diffkit.sweep.groups import display, group_keys, grouped_table, worth_grouping
from diffkit.sweep.render import render
from diffkit.sweep.spread import LEGEND

COMPARISON = "comparison"
TAG = "comparison"


def comparison_text(records: list[RunRecord], by: list[str] | None = None, sort: str | None = "eval/fid",
                    descending: bool = False) -> str:
    """The markdown table ``diffkit compare`` prints: grouped with the legend where
    runs repeat a configuration, else one row per run."""
    if by or worth_grouping(records, group_keys(records, None)):
        columns, rows, metrics = grouped_table(records, by)
        rows = sort_rows(columns, rows, sort if sort in columns else None, descending)
        return render(*display(columns, rows, metrics), "markdown") + "\n" + LEGEND
    columns, rows = table(records)
    return render(columns, sort_rows(columns, rows, sort if sort in columns else None, descending), "markdown")


def write_comparison(sweep_dir: str | Path, text: str | None = None) -> Path:
    """Write `text` (default: the comparison of every run under `sweep_dir`) as the
    only event file of ``<sweep_dir>/comparison``, at the step of the number of
    completed runs; return that directory. The TensorBoard tracker calls it when a
    sweep's run completes; ``diffkit compare DIR --tensorboard`` too."""
    from torch.utils.tensorboard import SummaryWriter

    sweep_dir = Path(sweep_dir)
    text = text if text is not None else comparison_text(find_runs([str(sweep_dir)]))
    out = sweep_dir / COMPARISON
    out.mkdir(parents=True, exist_ok=True)
    old = list(out.glob("events.out.tfevents.*"))
    writer = SummaryWriter(log_dir=str(out), filename_suffix=f".{time.time_ns()}")
    step = sum(rundir.read_json(p).get("status") == "completed" for p in sweep_dir.glob(f"*/{rundir.STATUS}"))
    writer.add_text(TAG, f"**{sweep_dir.name}**, {time.strftime('%Y-%m-%d %H:%M')}\n\n{text}", step)
    writer.close()
    for path in old:  # the new file is complete: the old ones are replaced
        path.unlink(missing_ok=True)
    return out
