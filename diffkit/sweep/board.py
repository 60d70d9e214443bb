"""The comparison of a sweep in TensorBoard: the ``diffkit compare`` text (TEXT dashboard)
and its interval plot (IMAGES), as event files in ``<sweep dir>/comparison`` (a run of
its own, next to the sweep's runs)."""

from __future__ import annotations

import time
from pathlib import Path

from diffkit.errors import ConfigError
from diffkit.runner import rundir
from diffkit.sweep.collect import RunRecord, find_runs
from diffkit.sweep.summary import report

COMPARISON = "comparison"
TAG = "comparison"
PLOT_TAG = "comparison/intervals"


def comparison_text(records: list[RunRecord], by: list[str] | None = None, sort: str | None = None,
                    allow_incomparable: bool = False) -> str:
    """The markdown ``diffkit compare`` prints; where metrics are not comparable, the
    refusal's line and then the comparison with what differs."""
    try:
        return report(records, by, sort, "markdown", allow_incomparable)
    except ConfigError as e:
        return f"**Not comparable**: {e}\n\n" + report(records, by, sort, "markdown", True)


def write_comparison(sweep_dir: str | Path, text: str | None = None, *, records: list[RunRecord] | None = None,
                     by: list[str] | None = None, sort: str | None = None, allow_incomparable: bool = False) -> Path:
    """Write `text` (default: the comparison of every run under `sweep_dir`) and the interval
    plot as the only event file of ``<sweep_dir>/comparison``, at the step of the number of
    completed runs; return that directory. The TensorBoard tracker calls it when a
    sweep's run completes; ``diffkit compare DIR --tensorboard`` too."""
    from torch.utils.tensorboard import SummaryWriter

    from diffkit.sweep.plot import figure

    sweep_dir = Path(sweep_dir)
    records = records if records is not None else find_runs([str(sweep_dir)])
    text = text if text is not None else comparison_text(records, by, sort, allow_incomparable)
    out = sweep_dir / COMPARISON
    out.mkdir(parents=True, exist_ok=True)
    old = list(out.glob("events.out.tfevents.*"))
    writer = SummaryWriter(log_dir=str(out), filename_suffix=f".{time.time_ns()}")
    step = sum(rundir.read_json(p).get("status") == "completed" for p in sweep_dir.glob(f"*/{rundir.STATUS}"))
    writer.add_text(TAG, f"**{sweep_dir.name}**, {time.strftime('%Y-%m-%d %H:%M')}\n\n{text}", step)
    fig = figure(records, by, sort)
    if fig is not None:
        writer.add_figure(PLOT_TAG, fig, step)  # closes the figure
    writer.close()
    for path in old:  # the new file is complete: the old ones are replaced
        path.unlink(missing_ok=True)
    return out
