"""``diffkit sweep --status DIR``: each run's state from sweep.json and its run directory,
read without starting anything."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from diffkit.errors import ConfigError
from diffkit.runner import rundir
from diffkit.sweep.execute import FINAL, SUMMARY

COLUMNS = ["run", "state", "step", "job", "attempts", "error"]


def state_of(entry: dict[str, Any]) -> str:
    """queued / running / completed / failed / interrupted / pending: the sweep's record,
    unless the run directory knows better (the run is under way, or it ended after the
    sweep process stopped watching)."""
    recorded = str(entry.get("status", "pending"))
    if recorded in FINAL and entry.get("action") != "skip":
        return recorded
    on_disk = rundir.read_json(Path(entry["dir"]) / rundir.STATUS).get("status")
    if on_disk in (*FINAL, "running") and (recorded != "pending" or on_disk == "completed"):
        return on_disk
    return recorded


def status_table(sweep_dir: Path) -> tuple[list[str], list[dict[str, Any]]]:
    """Columns and one row per run of the sweep in `sweep_dir`."""
    try:
        summary = json.loads((sweep_dir / SUMMARY).read_text())
    except (OSError, ValueError):
        raise ConfigError(f"{sweep_dir / SUMMARY} not found or unreadable; is {sweep_dir} a sweep directory?") from None
    rows = []
    for entry in summary.get("runs", []):
        run_dir = Path(entry["dir"])
        step = rundir.read_json(run_dir / rundir.STATUS).get("step")
        rows.append(
            {
                "run": entry["name"],
                "state": state_of(entry),
                "step": "" if step is None else f"{step}/{_steps(run_dir)}",
                "job": entry.get("job_id", ""),
                "attempts": entry.get("attempts", 0),
                "error": entry.get("error", "") if state_of(entry) != "completed" else "",
            }
        )
    return COLUMNS, rows


def _steps(run_dir: Path) -> Any:
    """The run's total steps: train.steps, else its budget's plan (status.json), else the budget."""
    try:
        train = yaml.safe_load((run_dir / rundir.CONFIG).read_text())["train"]
    except (OSError, KeyError, TypeError, yaml.YAMLError):
        return "?"
    if train.get("steps") is not None:
        return train["steps"]
    planned = (rundir.read_json(run_dir / rundir.STATUS).get("plan") or {}).get("planned_steps")
    return planned if planned is not None else f"({train.get('budget', '?')})"
