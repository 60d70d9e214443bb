"""Seed spread: a metric's mean, standard deviation and count over a group of runs, and
which groups are within noise of each other.

Two groups a and b are *within noise* of each other on a metric when

    |mean_a - mean_b| <= 2 * sqrt(std_a^2 / n_a + std_b^2 / n_b),

twice the standard error of the difference of the means (std: the sample standard
deviation, n - 1 in the denominator). For normal errors and large n that is a
two-sided test at about the 5% level; with 3 runs a group it is lenient (Student's
t with 2-4 degrees of freedom would need 2.8-4.3), so a difference it calls real
is worth a look, and one it calls noise is noise. Groups with fewer than two
values have no spread and are not compared.

Groups that are within noise share a letter (a compact letter display): every
maximal set of groups that are pairwise within noise gets one letter, ``a`` for the
set holding the best group where the metric's direction is known.
"""

from __future__ import annotations

import math
import string
from dataclasses import dataclass

#: metrics whose better direction is known: -1 lower is better, +1 higher is better.
DIRECTION = {"eval/fid": -1, "train/loss": -1, "eval/precision": 1, "eval/recall": 1}


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


def within_noise(a: Spread, b: Spread) -> bool:
    """|mean_a - mean_b| <= 2 * sqrt(std_a^2/n_a + std_b^2/n_b); False when either has no spread."""
    if a.std is None or b.std is None:
        return False
    return abs(a.mean - b.mean) <= 2 * math.sqrt(a.std**2 / a.n + b.std**2 / b.n)


def letters(spreads: list[Spread | None], direction: int = -1) -> list[str]:
    """Compact letter display: groups that share a letter are within noise of each other,
    groups that share none are not. ``-`` for a group without spread (or without values).

    direction: -1 lower is better, +1 higher is better; letters follow the order of the
    means from the best.
    """
    nodes = [i for i, s in enumerate(spreads) if s is not None and s.std is not None]
    if not nodes:
        return ["-"] * len(spreads)
    rank = {i: r for r, i in enumerate(sorted(nodes, key=lambda i: direction * -spreads[i].mean))}  # type: ignore[union-attr]
    near = {i: {j for j in nodes if j != i and within_noise(spreads[i], spreads[j])} for i in nodes}  # type: ignore[arg-type]
    cliques: list[set[int]] = []

    def grow(clique: set[int], candidates: set[int], excluded: set[int]) -> None:  # Bron-Kerbosch
        if not candidates and not excluded:
            cliques.append(clique)
            return
        for v in sorted(candidates):
            grow(clique | {v}, candidates & near[v], excluded & near[v])
            candidates = candidates - {v}
            excluded = excluded | {v}

    grow(set(), set(nodes), set())
    cliques.sort(key=lambda c: sorted(rank[i] for i in c))
    names = [_letter(k) for k in range(len(cliques))]
    return ["".join(names[k] for k, c in enumerate(cliques) if i in c) or "-" for i in range(len(spreads))]


def _letter(k: int) -> str:
    return string.ascii_lowercase[k] if k < 26 else f"{string.ascii_lowercase[k % 26]}{k // 26}"


LEGEND = (
    "mean ± std (n): over the runs of a group, or over `diffkit eval --repeats` sample sets of one run; "
    "groups that share a letter in a column are within noise of each other there: "
    "|mean difference| <= 2 × sqrt(std₁²/n₁ + std₂²/n₂), twice the standard error of the difference; "
    "`a` holds the best group (fid, loss: lower is better; precision, recall: higher); "
    "`-`: fewer than 2 values, no spread to compare."
)
