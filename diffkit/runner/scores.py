"""Scores of an evaluation: several sample sets summarised, merged into a run's metrics.json."""

from __future__ import annotations

import math
import statistics
import sys
from typing import Any

#: the number of sample sets behind a run's eval scores (``eval --repeats``).
REPEATS = "eval/repeats"
#: metrics.json keys that record how a score was made, not a score.
BOOKKEEPING = (
    "step",
    "eval/checkpoint_step",
    "eval/sampler",
    "eval/sampling_steps",
    "eval/num_samples",
    REPEATS,
    "train/global_batch",
)


def repeated(sets: list[dict[str, Any]]) -> dict[str, Any]:
    """Scores of K sample sets -> each metric's mean, ``<metric>_std`` (sample std,
    K - 1 in the denominator) and ``eval/repeats``: K; bookkeeping from the first set.
    One set is returned as it is."""
    if len(sets) == 1:
        return sets[0]
    out = dict(sets[0])
    for key, value in sets[0].items():
        if key not in BOOKKEEPING and isinstance(value, float):
            values = [float(scores[key]) for scores in sets]
            out[key], out[f"{key}_std"] = statistics.fmean(values), statistics.stdev(values)
    out[REPEATS] = len(sets)
    return out


def from_repeats(key: str) -> bool:
    """Keys an earlier ``--repeats`` evaluation wrote, which a new evaluation replaces."""
    return key == REPEATS or (key.startswith("eval/") and key.endswith("_std"))


def merge_scores(stored: dict[str, Any], scores: dict[str, Any]) -> dict[str, Any]:
    """`stored` (less an earlier evaluation's repeat keys) updated with `scores`, except
    that a NaN never replaces a finite number."""
    kept = {k: v for k, v in stored.items() if not from_repeats(k)}
    merged = {**kept, **scores}
    for key, value in scores.items():
        old = kept.get(key)
        if isinstance(value, float) and math.isnan(value) and isinstance(old, (int, float)) and math.isfinite(old):
            merged[key] = old
            print(f"diffkit: warning: {key} is NaN; kept the stored value {old:.6g}", file=sys.stderr)
    return merged
