"""Interval estimates over seeds (and sample sets), paired differences, Holm's correction
and the seeds a difference would need: the numbers behind ``diffkit compare``'s verdicts.

Intervals are 95 % percentile bootstraps (``scipy.stats.bootstrap``, a fixed seed so a
table is reproducible) joined with the Student-t interval of the same mean: with 2-5
seeds a bootstrap interval cannot be wider than the range of the data and covers far
less than 95 % (Hesterberg 2015, "What teachers should know about the bootstrap"), while
the t interval holds its level for normal errors. The union keeps the nominal level at
small n and is the bootstrap interval at large n. A p-value is the larger of the
t-test's and the bootstrap's (twice the share of resampled means on the far side of 0),
so a difference is resolved only when both agree.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
from scipy import stats

LEVEL = 0.95
ALPHA = 1 - LEVEL
RESAMPLES = 4999
POWER = 0.8
MAX_SEEDS = 1000


@dataclass
class Interval:
    """An estimate with its 95 % interval (lo, hi None when n < 2) and a two-sided p-value
    for "the estimate is 0" (None when not testable)."""

    value: float
    lo: float | None
    hi: float | None
    n: int
    p: float | None = None


def _rng() -> np.random.Generator:
    return np.random.default_rng(20260101)


def _bootstrap(data: tuple[np.ndarray, ...], statistic, level: float = LEVEL) -> tuple[float, float, np.ndarray]:
    """scipy's percentile bootstrap of `statistic` over the samples of `data`, each
    resampled on its own (strata) -> (lo, hi, bootstrap distribution)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # degenerate data: the interval is the point
        res = stats.bootstrap(
            data,
            statistic,
            confidence_level=level,
            n_resamples=RESAMPLES,
            method="percentile",
            vectorized=True,
            axis=-1,
            random_state=_rng(),
        )
    lo, hi = float(res.confidence_interval.low), float(res.confidence_interval.high)
    return lo, hi, np.asarray(res.bootstrap_distribution)


def _mean(x: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.mean(x, axis=axis)


def _boot_p(dist: np.ndarray) -> float:
    """Two-sided bootstrap p-value for 0: twice the smaller share of resamples on a side of 0."""
    return float(min(1.0, 2 * min(np.mean(dist <= 0), np.mean(dist >= 0))))


def mean_interval(values: list[float], level: float = LEVEL) -> Interval:
    """Mean of `values` with the union of the bootstrap and t intervals and the p-value for mean 0."""
    x = np.asarray(values, dtype=float)
    n, m = len(x), float(np.mean(x)) if len(x) else math.nan
    if n < 2:
        return Interval(m, None, None, n)
    sd = float(np.std(x, ddof=1))
    if sd == 0:
        return Interval(m, m, m, n, 0.0 if m != 0 else 1.0)
    half = stats.t.ppf(0.5 + level / 2, n - 1) * sd / math.sqrt(n)
    b_lo, b_hi, dist = _bootstrap((x,), _mean, level)
    p_t = float(2 * stats.t.sf(abs(m) / (sd / math.sqrt(n)), n - 1))
    return Interval(m, float(min(b_lo, m - half)), float(max(b_hi, m + half)), n, max(p_t, _boot_p(dist)))


def iqm_interval(values: list[float]) -> Interval | None:
    """Interquartile mean (the mean of the middle 50 %, rliable's IQM) with its bootstrap
    interval; None below 4 values."""
    x = np.asarray(values, dtype=float)
    if len(x) < 4:
        return None
    lo, hi, _ = _bootstrap((x,), lambda s, axis=-1: stats.trim_mean(s, 0.25, axis=axis))
    return Interval(float(stats.trim_mean(x, 0.25)), lo, hi, len(x))


def eval_interval(sets: list[list[float]]) -> Interval | None:
    """The arm's mean over seeds with its interval from the sample sets alone: a
    stratified bootstrap (strata: the seeds, whose trained models are held fixed) of
    mean_s(mean of seed s's sets). None unless every seed has >= 2 sets."""
    if not sets or any(len(s) < 2 for s in sets):
        return None
    data = tuple(np.asarray(s, dtype=float) for s in sets)

    def statistic(*strata: np.ndarray, axis: int = -1) -> np.ndarray:
        return np.mean([np.mean(s, axis=axis) for s in strata], axis=0)

    lo, hi, _ = _bootstrap(data, statistic)
    return Interval(float(np.mean([np.mean(s) for s in data])), lo, hi, sum(len(s) for s in data))


def variance_parts(sets: list[list[float]]) -> tuple[float | None, float | None]:
    """(training sd, evaluation sd) of one arm. Evaluation sd: the pooled sd of sample sets
    within a seed; training sd: sqrt(var over seeds of the per-seed means - the mean of
    eval var / K_s), the method-of-moments split (>= 0). None where not estimable."""
    means = [float(np.mean(s)) for s in sets]
    within = [float(np.var(s, ddof=1)) for s in sets if len(s) > 1]
    eval_var = float(np.mean(within)) if within and len(within) == len(sets) else None
    if len(means) < 2:
        return None, None if eval_var is None else math.sqrt(eval_var)
    seed_var = float(np.var(means, ddof=1))
    if eval_var is None:
        return math.sqrt(seed_var), None
    train_var = max(0.0, seed_var - float(np.mean([eval_var / len(s) for s in sets])))
    return math.sqrt(train_var), math.sqrt(eval_var)


def paired_difference(a: list[float], b: list[float]) -> Interval:
    """mean(a_s - b_s) over the seeds s both arms have, with its interval and p-value."""
    return mean_interval([x - y for x, y in zip(a, b)])


def unpaired_difference(a: list[float], b: list[float]) -> Interval:
    """mean(a) - mean(b) of independent arms: the two-sample bootstrap (each arm resampled
    on its own) joined with Welch's t interval."""
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    d = float(np.mean(x) - np.mean(y))
    if len(x) < 2 or len(y) < 2:
        return Interval(d, None, None, min(len(x), len(y)))
    vx, vy = np.var(x, ddof=1) / len(x), np.var(y, ddof=1) / len(y)
    se = math.sqrt(vx + vy)
    n = min(len(x), len(y))
    if se == 0:
        return Interval(d, d, d, n, 0.0 if d != 0 else 1.0)
    df = (vx + vy) ** 2 / (vx**2 / (len(x) - 1) + vy**2 / (len(y) - 1))
    half = stats.t.ppf(0.5 + LEVEL / 2, df) * se
    b_lo, b_hi, dist = _bootstrap((x, y), lambda s, t, axis=-1: np.mean(s, axis=axis) - np.mean(t, axis=axis))
    p_t = float(2 * stats.t.sf(abs(d) / se, df))
    return Interval(d, float(min(b_lo, d - half)), float(max(b_hi, d + half)), n, max(p_t, _boot_p(dist)))


def prob_improvement(a: list[float], b: list[float], higher_is_better: bool, paired: bool) -> float:
    """P(a better than b): over the seeds when paired, else over all (a_i, b_j) pairs
    (the Mann-Whitney statistic, rliable's probability of improvement); ties count 1/2."""
    sign = 1.0 if higher_is_better else -1.0
    if paired:
        d = sign * (np.asarray(a) - np.asarray(b))
    else:
        d = sign * (np.asarray(a)[:, None] - np.asarray(b)[None, :])
    return float(np.mean((d > 0) + 0.5 * (d == 0)))


def holm(pvalues: list[float]) -> list[float]:
    """Holm's step-down adjusted p-values (same order): sorted ascending,
    p_(i) * (m - i + 1), made monotone, capped at 1."""
    m = len(pvalues)
    order = sorted(range(m), key=lambda i: pvalues[i])
    out, running = [0.0] * m, 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * pvalues[i]))
        out[i] = running
    return out


def seeds_needed(diff: float, sd: float, alpha: float, paired: bool, power: float = POWER) -> int | None:
    """The fewest seeds per arm at which a two-sided t-test at level `alpha` has `power`
    for a true difference `diff` with per-seed sd `sd` (of the paired differences, or of
    each arm when unpaired): the noncentral-t power, with the observed values taken as
    the truth. None when it exceeds MAX_SEEDS or diff is 0."""
    if diff == 0 or not math.isfinite(diff) or not math.isfinite(sd):
        return None
    if sd == 0:
        return 2
    for n in range(2, MAX_SEEDS + 1):
        df = n - 1 if paired else 2 * n - 2
        nc = abs(diff) / (sd / math.sqrt(n)) if paired else abs(diff) / (sd * math.sqrt(2 / n))
        crit = stats.t.ppf(1 - alpha / 2, df)
        if stats.nct.sf(crit, df, nc) + stats.nct.cdf(-crit, df, nc) >= power:
            return n
    return None
