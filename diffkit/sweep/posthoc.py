"""Post-hoc EMA lengths as a hyperparameter of the comparison tables.

A run scored at EMA lengths (``diffkit eval RUN --ema 0.05,0.08``: metrics
``eval/fid@ema0.05``, ...) becomes one record per length, labelled ``RUN@ema0.05``, with
the hyperparameter ``ema.sigma_rel`` set to the length and the metrics unsuffixed, beside
the run's own record (``ema.sigma_rel``: ``tracked``, the EMA it trained with). So
``compare`` groups, averages over seeds and sorts them like any other setting, and
marks the best length of each arm (`mark_best`).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from diffkit.runner.posthoc import split

AXIS = "ema.sigma_rel"
TRACKED = "tracked"
BEST = "best_ema"


def expand(record: Any) -> list[Any]:
    """`record` (a `RunRecord`), then one record per post-hoc
    length found in its metrics; a record without any is returned alone, unchanged."""
    lengths = sorted({s for k in record.metrics if (s := split(k)[1]) is not None})
    if not lengths:
        return [record]
    own = {k: v for k, v in record.metrics.items() if split(k)[1] is None}
    training = {k: v for k, v in own.items() if not k.startswith("eval/")}
    out = [dataclasses.replace(record, hparams={**record.hparams, AXIS: TRACKED}, metrics=own)]
    for s in lengths:
        metrics = {**training, **{split(k)[0]: v for k, v in record.metrics.items() if split(k)[1] == s}}
        out.append(
            dataclasses.replace(
                record, label=f"{record.label}@ema{s:g}", hparams={**record.hparams, AXIS: s}, metrics=metrics
            )
        )
    return out


#: the metrics the best length is chosen on, first found first: +1 higher is better, -1 lower.
RANKED = {"eval/fid": -1, "eval/w2": -1, "eval/nll": -1, "eval/precision": 1, "eval/recall": 1}


def with_axis(records: list[Any]) -> list[Any]:
    """Give ``ema.sigma_rel`` (``tracked``) to records without one, once any record has it,
    so that the column is filled for runs never scored post hoc."""
    if not any(AXIS in r.hparams for r in records):
        return records
    return [r if AXIS in r.hparams else dataclasses.replace(r, hparams={**r.hparams, AXIS: TRACKED}) for r in records]


def mark_best(
    columns: list[str], rows: list[dict[str, Any]], hparams: list[str]
) -> tuple[list[str], list[dict[str, Any]]]:
    """Add the column ``best_ema``: ``*`` on the row whose post-hoc length scores best on the
    first metric of `RANKED` in the table (``eval/fid`` first) among the rows
    that share every other hyperparameter in `hparams` (an arm). Unchanged without ``ema.sigma_rel``."""
    metric = next((m for m in RANKED if m in columns and m.startswith("eval/")), None)
    if AXIS not in columns or metric is None:
        return columns, rows
    arm_keys = [h for h in hparams if h != AXIS and h in columns]
    best: dict[tuple, tuple[float, int]] = {}
    for i, row in enumerate(rows):
        value = row.get(metric)
        if isinstance(row.get(AXIS), (int, float)) and isinstance(value, (int, float)):
            arm = tuple(repr(row.get(h)) for h in arm_keys)
            score = -RANKED[metric] * float(value)  # smaller is better
            if arm not in best or score < best[arm][0]:
                best[arm] = (score, i)
    chosen = {i for _, i in best.values()}
    at = columns.index(AXIS) + 1
    return [*columns[:at], BEST, *columns[at:]], [
        {**row, BEST: "*" if i in chosen else ""} for i, row in enumerate(rows)
    ]
