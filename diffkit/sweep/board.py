"""The comparison of a sweep in TensorBoard: the ``diffkit compare`` text (TEXT dashboard)
and its interval plot (IMAGES, tag ``comparison/intervals``).

TensorBoard lists every directory with event files as a run, so the comparison lives in
one of the sweep's own runs: the run that completed last holds it, in an event file of
its own (``*.comparison``), and the copies in the other runs are removed. No
``comparison`` entry appears in the run selector next to the real runs."""

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
#: the ending of the event file that holds the comparison in a run's directory.
SUFFIX = ".comparison"


def comparison_text(
    records: list[RunRecord], by: list[str] | None = None, sort: str | None = None, allow_incomparable: bool = False
) -> str:
    """The markdown ``diffkit compare`` prints; where metrics are not comparable, the
    refusal's line and then the comparison with what differs."""
    try:
        return report(records, by, sort, "markdown", allow_incomparable)
    except ConfigError as e:
        return f"**Not comparable**: {e}\n\n" + report(records, by, sort, "markdown", True)


#: at most one refresh per this many seconds while runs of the sweep are still going.
REFRESH_SECONDS = 30.0


def refresh_due(sweep_dir: Path, now: float | None = None) -> bool:
    """Whether a run that just ended should rewrite the comparison: always when it was the
    sweep's last (every run ``sweep.json`` lists has ended, completed or failed), else at
    most every `REFRESH_SECONDS`, so a sweep of runs of seconds does not spend its time
    redrawing a board nobody looks at between two runs."""
    from diffkit.sweep.execute import SUMMARY

    listed = rundir.read_json(sweep_dir / SUMMARY).get("runs", [])
    names = [str(r["name"]) for r in listed if isinstance(r, dict) and r.get("name")]
    ended = {"completed", "failed"}
    if not names or all(rundir.read_json(sweep_dir / n / rundir.STATUS).get("status") in ended for n in names):
        return True
    written = [p.stat().st_mtime for p in sweep_dir.glob(f"*/events.out.tfevents.*{SUFFIX}")]
    return not written or (time.time() if now is None else now) - max(written) >= REFRESH_SECONDS


def holder(sweep_dir: Path) -> Path | None:
    """The run of `sweep_dir` that holds the comparison: the one whose status was written
    last among the completed runs (else among all runs); None when there is no run."""
    statuses = [p for p in sweep_dir.glob(f"*/{rundir.STATUS}") if p.parent.name != COMPARISON]
    completed = [p for p in statuses if rundir.read_json(p).get("status") == "completed"]
    chosen = max(completed or statuses, key=lambda p: (p.stat().st_mtime_ns, p.parent.name), default=None)
    return chosen.parent if chosen is not None else None


def write_comparison(
    sweep_dir: str | Path,
    text: str | None = None,
    *,
    run_dir: str | Path | None = None,
    records: list[RunRecord] | None = None,
    by: list[str] | None = None,
    sort: str | None = None,
    allow_incomparable: bool = False,
) -> Path | None:
    """Write `text` (default: the comparison of every run under `sweep_dir`) and the interval
    plot into `run_dir` (default: `holder`) as its only ``*.comparison`` event file, at the
    step of the number of completed runs, and remove them from every other run (and the
    ``comparison`` directory of older releases); return the run that holds them, None when
    the sweep has no run. The TensorBoard tracker calls it when a sweep's run completes;
    ``diffkit compare DIR --tensorboard`` too."""
    from torch.utils.tensorboard import SummaryWriter

    from diffkit.sweep.plot import figure

    sweep_dir = Path(sweep_dir)
    target = Path(run_dir) if run_dir is not None else holder(sweep_dir)
    if target is None:
        return None
    records = records if records is not None else find_runs([str(sweep_dir)])
    text = text if text is not None else comparison_text(records, by, sort, allow_incomparable)
    old = [*sweep_dir.glob(f"*/events.out.tfevents.*{SUFFIX}"), *(sweep_dir / COMPARISON).glob("events.out.tfevents.*")]
    writer = SummaryWriter(log_dir=str(target), filename_suffix=f".{time.time_ns()}{SUFFIX}")
    step = sum(rundir.read_json(p).get("status") == "completed" for p in sweep_dir.glob(f"*/{rundir.STATUS}"))
    writer.add_text(TAG, f"**{sweep_dir.name}**, {time.strftime('%Y-%m-%d %H:%M')}\n\n{text}", step)
    fig = figure(records, by, sort)
    if fig is not None:
        writer.add_figure(PLOT_TAG, fig, step)  # closes the figure
    writer.close()
    for path in old:  # the new file is complete: the old ones are replaced
        path.unlink(missing_ok=True)
    legacy = sweep_dir / COMPARISON
    if legacy.is_dir() and not any(legacy.iterdir()):
        legacy.rmdir()
    return target
