"""The comparison table of a sweep in TensorBoard's text dashboard (tag ``comparison``).

TensorBoard lists every directory with event files as a run, so the table lives in one
of the sweep's own runs: the run that completed last holds it, in an event file of its
own (``*.comparison``), and the copies in the other runs are removed. No ``comparison``
entry appears in the run selector next to the real runs, with a colour of its own."""

from __future__ import annotations

import time
from pathlib import Path

from diffkit.runner import rundir
from diffkit.sweep.collect import RunRecord, find_runs, sort_rows, table
from diffkit.sweep.groups import display, group_keys, grouped_table, worth_grouping
from diffkit.sweep.render import render
from diffkit.sweep.spread import LEGEND

#: the directory older releases wrote the table to (a run of its own in TensorBoard).
COMPARISON = "comparison"
TAG = "comparison"
#: the ending of the event file that holds the table in a run's directory.
SUFFIX = ".comparison"


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


def holder(sweep_dir: Path) -> Path | None:
    """The run of `sweep_dir` that holds the table: the one whose status was written last
    among the completed runs (else among all runs); None when there is no run."""
    statuses = [p for p in sweep_dir.glob(f"*/{rundir.STATUS}") if p.parent.name != COMPARISON]
    completed = [p for p in statuses if rundir.read_json(p).get("status") == "completed"]
    chosen = max(completed or statuses, key=lambda p: (p.stat().st_mtime_ns, p.parent.name), default=None)
    return chosen.parent if chosen is not None else None


def write_comparison(sweep_dir: str | Path, text: str | None = None, run_dir: str | Path | None = None) -> Path | None:
    """Write `text` (default: the comparison of every run under `sweep_dir`) into `run_dir`
    (default: `holder`) as its only ``*.comparison`` event file, at the step of the number
    of completed runs, and remove the table from every other run (and the ``comparison``
    directory of older releases); return the run that holds it, None when the sweep has no
    run. The TensorBoard tracker calls it when a sweep's run completes; ``diffkit compare
    DIR --tensorboard`` too."""
    from torch.utils.tensorboard import SummaryWriter

    sweep_dir = Path(sweep_dir)
    target = Path(run_dir) if run_dir is not None else holder(sweep_dir)
    if target is None:
        return None
    text = text if text is not None else comparison_text(find_runs([str(sweep_dir)]))
    old = [*sweep_dir.glob(f"*/events.out.tfevents.*{SUFFIX}"), *(sweep_dir / COMPARISON).glob("events.out.tfevents.*")]
    writer = SummaryWriter(log_dir=str(target), filename_suffix=f".{time.time_ns()}{SUFFIX}")
    step = sum(rundir.read_json(p).get("status") == "completed" for p in sweep_dir.glob(f"*/{rundir.STATUS}"))
    writer.add_text(TAG, f"**{sweep_dir.name}**, {time.strftime('%Y-%m-%d %H:%M')}\n\n{text}", step)
    writer.close()
    for path in old:  # the new file is complete: the old ones are replaced
        path.unlink(missing_ok=True)
    legacy = sweep_dir / COMPARISON
    if legacy.is_dir() and not any(legacy.iterdir()):
        legacy.rmdir()
    return target
