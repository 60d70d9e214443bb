"""Runs on disk as comparable records: flat hyperparameters, status and final metrics."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from diffkit.config import hparams, read_yaml
from diffkit.errors import ConfigError, closest
from diffkit.runner import rundir
from diffkit.runner.provenance import PROVENANCE
from diffkit.runner.scores import BOOKKEEPING
from diffkit.sweep import posthoc

_MISSING = object()

#: settings whose measured value is a result: the result's column replaces the setting's.
MEASURED_AS = {"eval.num_samples": "eval/num_samples", "eval.steps": "eval/sampling_steps"}


@dataclass
class RunRecord:
    """label: how the run is named in tables; hparams: the flat config without ``run.*``."""

    label: str
    dir: Path
    status: str
    hparams: dict[str, Any]
    metrics: dict[str, Any]
    #: ``RUN/provenance.json`` ({} for runs written before it existed).
    provenance: dict[str, Any] = field(default_factory=dict)


def find_runs(paths: list[str]) -> list[RunRecord]:
    """Each path is a run directory (holding config.yaml) or a directory searched
    recursively for runs (a sweep, or ``runs/``)."""
    records: list[RunRecord] = []
    for text in paths:
        root = Path(text)
        if not root.is_dir():
            raise ConfigError(f"not a directory: {root}")
        found = [root] if (root / rundir.CONFIG).is_file() else run_dirs(root)
        if not found:
            raise ConfigError(f"no runs (directories with {rundir.CONFIG}) under {root}")
        for run_dir in found:
            label = run_dir.name if run_dir == root else str(run_dir.relative_to(root))
            if len(paths) > 1 and run_dir != root:
                label = f"{root.name}/{label}"
            records.extend(posthoc.expand(load_record(run_dir, label)))  # a row per post-hoc EMA length
    return posthoc.with_axis(records)


def run_dirs(root: Path) -> list[Path]:
    """Directories under `root` holding a config.yaml, sorted; symlinked directories are
    followed (each real directory once), runs a sweep moved aside are left out."""
    found, seen = [], set()
    for here, subdirs, files in os.walk(root, followlinks=True):
        real = os.path.realpath(here)
        if real in seen:
            subdirs[:] = []
            continue
        seen.add(real)
        subdirs.sort()
        if rundir.CONFIG in files and ".discarded-" not in Path(here).name:  # moved aside by a sweep
            found.append(Path(here))
    return sorted(found)


def load_record(run_dir: Path, label: str) -> RunRecord:
    config = read_yaml(run_dir / rundir.CONFIG)
    return RunRecord(
        label=label,
        dir=run_dir,
        status=str(rundir.read_json(run_dir / rundir.STATUS).get("status", "unknown")),
        hparams=hparams(config),
        metrics=rundir.read_json(run_dir / rundir.METRICS),
        provenance=rundir.read_json(run_dir / PROVENANCE),
    )


def differing(records: list[RunRecord]) -> list[str]:
    """Hyperparameters whose value is not the same in every record, in config order,
    without settings whose measured value is among the results (``eval.num_samples``
    when ``eval/num_samples`` is there)."""
    keys = list(dict.fromkeys(k for r in records for k in r.hparams))
    measured = {k for r in records for k in r.metrics}
    return [
        k
        for k in keys
        if len({repr(r.hparams.get(k, _MISSING)) for r in records}) > 1
        and MEASURED_AS.get(k, k.replace(".", "/")) not in measured
    ]


def metric_columns(records: list[RunRecord]) -> tuple[list[str], list[str]]:
    """(bookkeeping results that differ between the records that have them, the other results), each sorted."""
    keys = sorted({k for r in records for k in r.metrics})
    varying = [k for k in keys if len({repr(r.metrics[k]) for r in records if k in r.metrics}) > 1]
    return [k for k in varying if k in BOOKKEEPING], [k for k in keys if k not in BOOKKEEPING]


def table(
    records: list[RunRecord], sort: str | None = None, descending: bool = False, all_hparams: bool = False
) -> tuple[list[str], list[dict[str, Any]]]:
    """Columns ``run, status, <hparams>, <metrics>`` and one row per record, sorted by
    the column `sort` (runs without a value last)."""
    hkeys = list(dict.fromkeys(k for r in records for k in r.hparams)) if all_hparams else differing(records)
    books, results = metric_columns(records)
    mkeys = [*books, *results]
    columns = ["run", "status", *hkeys, *mkeys]
    rows = [
        {
            "run": r.label,
            "status": r.status,
            **{k: r.hparams.get(k) for k in hkeys},
            **{k: r.metrics.get(k) for k in mkeys},
        }
        for r in records
    ]
    columns, rows = posthoc.mark_best(columns, rows, hkeys)
    return columns, sort_rows(columns, rows, sort, descending)


def sort_rows(
    columns: list[str], rows: list[dict[str, Any]], sort: str | None, descending: bool
) -> list[dict[str, Any]]:
    """`rows` sorted by the column `sort` (rows without a value last)."""
    if sort is None:
        return rows
    if sort not in columns:
        hint = closest(sort, columns)
        raise ConfigError(
            f"--sort {sort!r} is not a column; " + (f"{hint} " if hint else "") + f"columns: {', '.join(columns)}"
        )
    present = [row for row in rows if row[sort] is not None]
    present.sort(key=lambda row: _sort_key(row[sort]), reverse=descending)
    return present + [row for row in rows if row[sort] is None]


def _sort_key(value: Any) -> tuple[int, Any]:
    return (0, value) if isinstance(value, (int, float)) and not isinstance(value, bool) else (1, str(value))
