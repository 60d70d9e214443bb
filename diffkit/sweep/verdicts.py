"""Arms (groups of runs that differ only in seed), their interval estimates per metric,
and one verdict per pair of arms and metric: shown, or not resolved and how many seeds
would resolve it.

A pair is compared on the seeds both arms ran, seed by seed (paired: the arms of a sweep
share initial weights, data order, training noise and sampling seeds per seed), else
as independent samples. The p-values of the pairs of one metric are Holm-corrected
(``stats.holm``); a difference is *shown* when its corrected p is below 0.05.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from diffkit.runner.scores import REPEATS
from diffkit.sweep import stats
from diffkit.sweep.collect import RunRecord


@dataclass
class Arm:
    """name: the grouping values joined by ``-``; values: {key: value}; runs: its records."""

    name: str
    values: dict[str, Any]
    runs: list[RunRecord]

    @property
    def status(self) -> str:
        counts = Counter(r.status for r in self.runs)
        return next(iter(counts)) if len(counts) == 1 else ", ".join(f"{n} {s}" for s, n in counts.items())


@dataclass
class Estimate:
    """One arm on one metric: per-seed values (a seed's mean over its sample sets), the
    mean and IQM with their intervals, the interval from sample sets alone, and the
    training / evaluation standard deviations (``stats.variance_parts``)."""

    seeds: dict[Any, float]
    sets: list[list[float]]
    mean: stats.Interval
    iqm: stats.Interval | None = None
    eval: stats.Interval | None = None
    train_sd: float | None = None
    eval_sd: float | None = None


@dataclass
class Verdict:
    """`first` is the arm with the better mean; `diff` = first - second (its interval, n, p)."""

    metric: str
    first: str
    second: str
    diff: stats.Interval
    paired: bool
    prob: float | None
    higher_is_better: bool
    pairs: int = 1
    p_holm: float | None = None
    needed: int | None = None
    text: str = ""

    @property
    def resolved(self) -> bool:
        return self.p_holm is not None and self.p_holm < stats.ALPHA


@dataclass
class Comparison:
    """Arms grouped by `keys`, each metric's direction ({metric: (higher_is_better or None,
    description)}), estimates by (arm name, metric), verdicts by metric, the primary metric."""

    keys: list[str]
    arms: list[Arm]
    metrics: list[str]
    directions: dict[str, tuple[bool | None, str]]
    estimates: dict[tuple[str, str], Estimate] = field(default_factory=dict)
    verdicts: dict[str, list[Verdict]] = field(default_factory=dict)
    primary: str | None = None


def run_values(record: RunRecord, metric: str) -> list[float]:
    """The run's values of `metric`: its ``eval --repeats`` sample sets when provenance
    kept them (and they belong to the stored mean), else the one stored number."""
    value = record.metrics.get(metric)
    if value is None or not _is_number(value):
        return []
    sets = (record.provenance.get("evaluation") or {}).get("sets", {}).get(metric)
    if isinstance(sets, list) and len(sets) > 1 and int(record.metrics.get(REPEATS) or 0) == len(sets):
        return [float(v) for v in sets]
    return [float(value)]


def estimate(arm: Arm, metric: str) -> Estimate | None:
    units: dict[Any, list[float]] = {}
    for i, record in enumerate(arm.runs):
        values = run_values(record, metric)
        if values:
            seed = record.hparams.get("seed", 0)
            units[seed if seed not in units else (seed, i)] = values
    if not units:
        return None
    sets = list(units.values())
    per_seed = {k: sum(v) / len(v) for k, v in units.items()}
    means = list(per_seed.values())
    mean = stats.mean_interval(means)
    if len(means) == 1 and len(sets[0]) > 1:  # one run with sample sets: their spread is all there is
        mean = stats.mean_interval(sets[0])
    train_sd, eval_sd = stats.variance_parts(sets)
    return Estimate(per_seed, sets, mean, stats.iqm_interval(means), stats.eval_interval(sets), train_sd, eval_sd)


def compare_arms(
    arms: list[Arm],
    metrics: list[str],
    directions: dict[str, tuple[bool | None, str]],
    keys: list[str],
    primary: str | None = None,
    verdict_metrics: list[str] | None = None,
) -> Comparison:
    """Estimates for every arm and metric; verdicts for each metric of `verdict_metrics`
    (default: `metrics`) whose direction is known."""
    out = Comparison(keys, arms, metrics, directions, primary=primary)
    for arm in arms:
        for m in metrics:
            e = estimate(arm, m)
            if e is not None:
                out.estimates[(arm.name, m)] = e
    for m in verdict_metrics if verdict_metrics is not None else metrics:
        higher = directions.get(m, (None, ""))[0]
        if higher is not None:
            out.verdicts[m] = metric_verdicts(out, m, higher)
    return out


def metric_verdicts(comparison: Comparison, metric: str, higher: bool) -> list[Verdict]:
    """Every pair of arms with values, better mean first, Holm-corrected over the testable pairs."""
    sign = 1.0 if higher else -1.0
    ranked = [a for a in comparison.arms if (a.name, metric) in comparison.estimates]
    ranked.sort(key=lambda a: -sign * comparison.estimates[(a.name, metric)].mean.value)
    verdicts = []
    for i, a in enumerate(ranked):
        for b in ranked[i + 1 :]:
            verdicts.append(
                pair_verdict(
                    comparison.estimates[(a.name, metric)],
                    comparison.estimates[(b.name, metric)],
                    metric,
                    a.name,
                    b.name,
                    higher,
                )
            )
    testable = [v for v in verdicts if v.diff.p is not None]
    for v, p in zip(testable, stats.holm([v.diff.p for v in testable])):  # type: ignore[misc]
        v.p_holm, v.pairs = p, len(testable)
    for v in verdicts:
        v.needed = _needed(v, comparison.estimates, len(testable))
        v.text = describe(v)
    return verdicts


def pair_verdict(ea: Estimate, eb: Estimate, metric: str, a: str, b: str, higher: bool) -> Verdict:
    common = [s for s in ea.seeds if s in eb.seeds and not isinstance(s, tuple)]
    if len(common) >= 2:
        xa, xb = [ea.seeds[s] for s in common], [eb.seeds[s] for s in common]
        return Verdict(
            metric,
            a,
            b,
            stats.paired_difference(xa, xb),
            True,
            stats.prob_improvement(xa, xb, higher, paired=True),
            higher,
        )
    xa, xb = list(ea.seeds.values()), list(eb.seeds.values())
    if len(xa) == 1 and len(xb) == 1 and len(ea.sets[0]) > 1 and len(eb.sets[0]) > 1:
        xa, xb = ea.sets[0], eb.sets[0]  # one run each, with sample sets: evaluation noise only
    return Verdict(
        metric,
        a,
        b,
        stats.unpaired_difference(xa, xb),
        False,
        stats.prob_improvement(xa, xb, higher, paired=False),
        higher,
    )


def _needed(v: Verdict, estimates: dict[tuple[str, str], Estimate], pairs: int) -> int | None:
    """Seeds per arm for 80 % power at the strictest Holm level (0.05 / pairs)."""
    ea, eb = estimates[(v.first, v.metric)], estimates[(v.second, v.metric)]
    if v.paired:
        common = [s for s in ea.seeds if s in eb.seeds]
        d = [ea.seeds[s] - eb.seeds[s] for s in common]
        sd = _sd(d)
    else:
        sa, sb = _sd(list(ea.seeds.values())), _sd(list(eb.seeds.values()))
        sd = None if sa is None or sb is None else ((sa**2 + sb**2) / 2) ** 0.5
    if sd is None:
        return None
    return stats.seeds_needed(v.diff.value, sd, stats.ALPHA / max(1, pairs), v.paired)


def describe(v: Verdict) -> str:
    """The verdict as a sentence: "a beats b on m: difference d [lo, hi], ..." or
    "a vs b on m: not resolved at n=N: ...; ~K seeds would resolve a difference this size"."""
    d = v.diff
    ci = f"{_num(d.value, True)} [{_num(d.lo)}, {_num(d.hi)}]" if d.lo is not None else _num(d.value, True)
    prob = f", P({v.first} better) {v.prob:.2f}" if v.prob is not None else ""
    seeds = f"{d.n} {'paired seeds' if v.paired else 'seeds per arm, unpaired'}"
    if v.resolved:
        return f"{v.first} beats {v.second} on {v.metric}: difference {ci}{prob}, Holm p {v.p_holm:.2g} ({seeds})"
    head = f"{v.first} vs {v.second} on {v.metric}: not resolved at n={d.n}: difference {ci}"
    if d.p is None:
        return f"{head}; at least 2 seeds per arm are needed for an interval"
    p = f"Holm p {v.p_holm:.2g}" + (f" (p {d.p:.2g} before Holm over {v.pairs} pairs)" if d.p < stats.ALPHA else "")
    if d.value == 0:
        return f"{head}{prob}, {p}; no difference was seen"
    more = (
        f"~{v.needed} seeds would resolve a difference this size"
        if v.needed is not None
        else f"more than {stats.MAX_SEEDS} seeds would be needed for a difference this size"
    )
    return f"{head}{prob}, {p}; {more}"


def _sd(values: list[float]) -> float | None:
    n = len(values)
    if n < 2:
        return None
    m = sum(values) / n
    return (sum((x - m) ** 2 for x in values) / (n - 1)) ** 0.5


def _num(x: float | None, signed: bool = False) -> str:
    if x is None:
        return "?"
    return f"{x:+.3g}" if signed else f"{x:.3g}"


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and not math.isnan(value)


POWER_NOTE = (
    "Seeds needed: the fewest seeds per arm at which a two-sided t-test (paired when the arms share seeds) at "
    "level 0.05 / pairs has 80 % power, taking the observed difference and the observed spread as the truth "
    "(noncentral t)."
)
