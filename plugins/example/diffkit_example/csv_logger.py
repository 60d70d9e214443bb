"""A lifecycle-hook plugin: every logged or evaluated metric as a row of ``metrics.csv`` in the run dir.

Rows are ``step,name,value``. Each checkpoint stores its step; on ``--resume`` the
rows of later steps (logged after that checkpoint, before a crash) are dropped, so
each step appears once, and the rows of that step and earlier are kept, including
the evaluation that follows the last checkpoint. Block it with ``-p no:example_csv``.

The state is versioned: version 1 stored a row count, version 2 stores the step;
``diffkit_checkpoint_load`` migrates a version-1 state.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from diffkit import hookimpl
from diffkit.interfaces.run import RunContext

from . import DIFFKIT_PLUGIN_API  # noqa: F401 - read by diffkit's loader from this module too

FILENAME = "metrics.csv"
HEADER = ["step", "name", "value"]
STATE_KEY = "example_csv"
#: the layout of the checkpoint state; diffkit passes the saved one back as `version`.
DIFFKIT_STATE_VERSION = 2


def path(run: RunContext) -> Path:
    return Path(run.dir) / FILENAME


def read_rows(file: Path) -> list[list[str]]:
    """The data rows of `file` (header excluded); [] when it does not exist."""
    if not file.is_file():
        return []
    with file.open(newline="") as f:
        return list(csv.reader(f))[1:]


def _write(file: Path, rows: list[list[Any]], mode: str) -> None:
    new = mode == "w" or not file.is_file()
    with file.open("w" if new else "a", newline="") as f:
        writer = csv.writer(f)
        if new:
            writer.writerow(HEADER)
        writer.writerows(rows)


@hookimpl
def diffkit_log(run: RunContext, step: int, metrics: dict[str, float]) -> None:
    if run.is_main:
        _write(path(run), [[step, name, repr(float(value))] for name, value in metrics.items()], "a")


@hookimpl
def diffkit_eval(run: RunContext, step: int, metrics: dict[str, float]) -> None:
    diffkit_log(run=run, step=step, metrics=metrics)


@hookimpl
def diffkit_checkpoint_save(run: RunContext, state: dict[str, Any]) -> None:
    state[STATE_KEY] = {"step": run.step}


@hookimpl
def diffkit_checkpoint_load(run: RunContext, state: dict[str, Any], version: int | None) -> None:
    saved = state.get(STATE_KEY)
    if saved is None or not run.is_main:
        return
    rows = read_rows(path(run))
    if version in (None, 1):  # {"rows": n}: the step of the last row it counted
        n = int(saved["rows"])
        saved = {"step": int(rows[n - 1][0]) if 0 < n <= len(rows) else 0}
    _write(path(run), [r for r in rows if int(r[0]) <= int(saved["step"])], "w")
