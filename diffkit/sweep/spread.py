"""Mean, sample standard deviation and count of a list of values (``diffkit eval
--repeats`` reports each metric's over its sample sets). Interval estimates and the
comparison of arms are in `diffkit.sweep.stats` and `diffkit.sweep.verdicts`."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass
class Spread:
    """mean, sample std (None when n < 2) and n of one metric over one group."""

    mean: float
    std: float | None
    n: int


def spread(values: list[float]) -> Spread:
    """Spread of `values` (at least one)."""
    n = len(values)
    mean = sum(values) / n
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else None
    return Spread(mean, std, n)
