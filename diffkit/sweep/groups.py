"""Runs grouped by their hyperparameters (by default: all that differ but ``seed``),
each metric as mean, std and n over a group, with the letters of :mod:`spread`."""

from __future__ import annotations

from collections import Counter
from typing import Any

from diffkit.errors import ConfigError, closest
from diffkit.sweep.collect import RunRecord, differing, metric_columns, sort_rows
from diffkit.sweep.spread import DIRECTION, Spread, letters, spread

#: the hyperparameters that tell repeats of one configuration apart.
REPEAT_KEYS = ("seed",)
from diffkit.runner.scores import REPEATS  # noqa: F401 - re-exported
MIXED = "mixed"


def group_keys(records: list[RunRecord], by: list[str] | None) -> list[str]:
    """`by`, checked against the records' hyperparameters, else every differing one but
    ``seed`` and the parameters that follow from a differing component name (linear's
    ``scheduler.beta_start`` where ``scheduler.name`` is linear or cosine)."""
    if not by:
        keys = [k for k in differing(records) if k not in REPEAT_KEYS]
        return [k for k in keys if not _follows_name(records, k, keys)]
    known = list(dict.fromkeys(k for r in records for k in r.hparams))
    for key in by:
        if key not in known:
            hint = closest(key, known)
            raise ConfigError(f"--by {key!r} is not a hyperparameter of these runs; " + (f"{hint} " if hint else "")
                              + "see diffkit compare --all for every key")
    return list(by)


def _follows_name(records: list[RunRecord], key: str, keys: list[str]) -> bool:
    """True when `key` is ``<section>.<param>``, ``<section>.name`` is in `keys`, and each
    name has one value of `key`."""
    section, _, param = key.rpartition(".")
    name = f"{section}.name"
    if not section or param == "name" or name not in keys:
        return False
    seen: dict[str, set[str]] = {}
    for r in records:
        seen.setdefault(repr(r.hparams.get(name)), set()).add(repr(r.hparams.get(key)))
    return all(len(v) == 1 for v in seen.values())


def worth_grouping(records: list[RunRecord], keys: list[str]) -> bool:
    """True when some group has several runs or some run has repeated evaluations."""
    counts = Counter(_key(r, keys) for r in records)
    return max(counts.values(), default=0) > 1 or any(int(r.metrics.get(REPEATS) or 0) > 1 for r in records)


def grouped_table(
    records: list[RunRecord], by: list[str] | None = None, sort: str | None = None, descending: bool = False
) -> tuple[list[str], list[dict[str, Any]], list[str]]:
    """(columns, rows, metrics): one row per group, columns ``<by keys>, runs, status,
    <bookkeeping>`` then ``<metric>, <metric>_std, <metric>_n, <metric>_group`` for each metric."""
    keys = group_keys(records, by)
    groups: dict[tuple, list[RunRecord]] = {}
    for record in records:
        groups.setdefault(_key(record, keys), []).append(record)
    books, results = metric_columns(records)
    metrics = [m for m in results if not m.endswith("_std") and _numeric_somewhere(records, m)]
    rows = []
    for members in groups.values():
        row: dict[str, Any] = {k: members[0].hparams.get(k) for k in keys}
        row["runs"] = len(members)
        row["status"] = _status(members)
        for b in books:
            values = {repr(r.metrics[b]): r.metrics[b] for r in members if b in r.metrics}
            row[b] = next(iter(values.values())) if len(values) == 1 else (MIXED if values else None)
        rows.append(row)
    spreads = {m: [metric_spread(members, m) for members in groups.values()] for m in metrics}
    for m in metrics:
        for row, s, mark in zip(rows, spreads[m], letters(spreads[m], DIRECTION.get(m, -1))):
            row.update({m: s and s.mean, f"{m}_std": s and s.std, f"{m}_n": s and s.n, f"{m}_group": mark})
    columns = [*keys, "runs", "status", *books, *(f"{m}{x}" for m in metrics for x in ("", "_std", "_n", "_group"))]
    return columns, sort_rows(columns, rows, sort, descending), metrics


def metric_spread(members: list[RunRecord], metric: str) -> Spread | None:
    """Spread of `metric` over the runs of a group; a lone run evaluated with
    ``--repeats K`` gives the spread of its K sample sets."""
    values = [r.metrics[metric] for r in members if _is_number(r.metrics.get(metric))]
    if not values:
        return None
    if len(values) == 1 and len(members) == 1:
        run = members[0].metrics
        if _is_number(run.get(f"{metric}_std")) and int(run.get(REPEATS) or 0) > 1:
            return Spread(float(values[0]), float(run[f"{metric}_std"]), int(run[REPEATS]))
    return spread([float(v) for v in values])


def display(columns: list[str], rows: list[dict[str, Any]], metrics: list[str]) -> tuple[list[str], list[dict[str, Any]]]:
    """One text cell per metric, ``mean ± std (n) letters``, for the markdown table."""
    shown = [c for c in columns if not any(c == f"{m}{x}" for m in metrics for x in ("_std", "_n", "_group"))]
    out = []
    for row in rows:
        cells = {c: row[c] for c in shown}
        for m in metrics:
            cells[m] = _cell(row[m], row[f"{m}_std"], row[f"{m}_n"], row[f"{m}_group"])
        out.append(cells)
    return shown, out


def _cell(mean: float | None, std: float | None, n: int | None, group: str) -> str:
    if mean is None:
        return ""
    text = f"{mean:.4g}" if std is None else f"{mean:.4g} ± {std:.2g}"
    return f"{text} ({n}) {group}"


def _key(record: RunRecord, keys: list[str]) -> tuple:
    return tuple(repr(record.hparams.get(k)) for k in keys)


def _status(members: list[RunRecord]) -> str:
    counts = Counter(r.status for r in members)
    return next(iter(counts)) if len(counts) == 1 else ", ".join(f"{n} {s}" for s, n in counts.items())


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _numeric_somewhere(records: list[RunRecord], metric: str) -> bool:
    return any(_is_number(r.metrics.get(metric)) for r in records)
