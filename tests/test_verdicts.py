"""The statistics behind ``diffkit compare``'s verdicts (diffkit/sweep/stats.py, verdicts.py):
a constructed difference is found at the n the power rule predicts and a null one is
not; intervals cover the truth at about the nominal rate; Holm's correction is applied.
Each check is also run on a deliberately broken variant, which it must reject."""

from __future__ import annotations

import math

import numpy as np
import pytest

from diffkit.sweep import stats
from diffkit.sweep.collect import RunRecord
from diffkit.sweep.verdicts import Arm, compare_arms

DIRS = {"eval/fid": (False, "")}


def arm(name: str, values: list[float]) -> Arm:
    runs = [
        RunRecord(f"{name}-s{s}", None, "completed", {"seed": s, "arm": name}, {"eval/fid": v})  # type: ignore[arg-type]
        for s, v in enumerate(values)
    ]
    return Arm(name, {"arm": name}, runs)


def pair(n: int, delta: float, seed_effect: float = 10.0) -> list:
    """Arms a and b over n seeds: a shared per-seed offset (seed_effect * s, which only
    a paired comparison removes) and b - a = delta + (+1, -1, +1, ...)."""
    a = [50.0 + seed_effect * s for s in range(n)]
    b = [x + delta + (1.0 if s % 2 == 0 else -1.0) for s, x in enumerate(a)]
    c = compare_arms([arm("a", a), arm("b", b)], ["eval/fid"], DIRS, ["arm"])
    return c.verdicts["eval/fid"]


def check_known_difference_found_at_predicted_n() -> int:
    (at2,) = pair(2, 2.0)
    assert at2.first == "a" and not at2.resolved and at2.needed is not None
    assert "not resolved at n=2: difference -2 [" in at2.text
    assert f"~{at2.needed} seeds would resolve a difference this size" in at2.text
    k = at2.needed
    assert 4 <= k <= 12, k  # normal approximation: ((1.96 + 0.84) * 1.41 / 2)^2 = 3.9, plus the t penalty
    (at_k,) = pair(k, 2.0)
    assert at_k.resolved and at_k.paired, at_k.text
    assert at_k.text.startswith("a beats b on eval/fid: difference -2")
    return k


def check_null_difference_not_resolved() -> None:
    for n in (2, 8, 20):
        (v,) = pair(n, 0.0)
        assert not v.resolved, v.text
        assert "not resolved" in v.text


def test_a_known_difference_is_found_at_the_predicted_n_and_a_null_one_is_not():
    check_known_difference_found_at_predicted_n()
    check_null_difference_not_resolved()


def test_the_known_difference_check_rejects_an_unpaired_comparison(monkeypatch):
    """Broken variant: differences of means instead of per-seed differences. The shared
    seed offsets (10 per seed) then swamp the difference of 2, and it is never resolved."""
    from diffkit.sweep import verdicts

    monkeypatch.setattr(
        verdicts,
        "pair_verdict",
        lambda ea, eb, m, a, b, h: verdicts.Verdict(
            m, a, b, stats.unpaired_difference(list(ea.seeds.values()), list(eb.seeds.values())), False, None, h
        ),
    )
    with pytest.raises(AssertionError):
        check_known_difference_found_at_predicted_n()


def test_null_differences_are_rarely_resolved_and_the_bootstrap_alone_fails_that(monkeypatch):
    """200 null differences of 3 seeds: the union interval calls about 5 % real (at most
    10 %); the broken variant, a bootstrap interval alone, cannot be wider than the data's
    range and calls ~25 % real (all three of one sign)."""

    def false_rate() -> float:
        rng = np.random.default_rng(1)
        return sum(stats.mean_interval(list(rng.normal(0, 1, 3))).p < 0.05 for _ in range(200)) / 200

    assert false_rate() <= 0.10
    monkeypatch.setattr(stats, "mean_interval", _bootstrap_only)
    assert false_rate() > 0.15


def _bootstrap_only(values: list[float], level: float = stats.LEVEL) -> stats.Interval:
    x = np.asarray(values, dtype=float)
    lo, hi, dist = stats._bootstrap((x,), stats._mean, level)
    return stats.Interval(float(x.mean()), lo, hi, len(x), stats._boot_p(dist))


DRAWS = 400
SE = math.sqrt(0.95 * 0.05 / DRAWS)  # binomial standard error of the coverage: 0.011
TOLERANCE = 3 * SE  # coverage within 0.95 +- 0.033


def coverage_of_mean(n: int, draws: int = DRAWS) -> float:
    rng = np.random.default_rng(n)
    hits = 0
    for _ in range(draws):
        i = stats.mean_interval(list(rng.normal(3.0, 2.0, n)))
        hits += i.lo <= 3.0 <= i.hi
    return hits / draws


def coverage_of_paired_difference(n: int, draws: int = DRAWS) -> float:
    """Arms with a large shared per-seed effect (sd 5) and a true difference of 1."""
    rng = np.random.default_rng(100 + n)
    hits = 0
    for _ in range(draws):
        shared = rng.normal(0, 5, n)
        a = shared + rng.normal(0, 1, n)
        b = shared + 1.0 + rng.normal(0, 1, n)
        i = stats.paired_difference(list(b), list(a))
        hits += i.lo <= 1.0 <= i.hi
    return hits / draws


@pytest.mark.parametrize("n", [3, 20])
def test_mean_intervals_cover_the_true_mean_at_the_nominal_rate(n: int):
    """400 normal samples of n seeds: the 95 % interval covers the true mean in
    0.95 +- 3 binomial standard errors of the draws (0.917 .. 0.983)."""
    assert abs(coverage_of_mean(n) - 0.95) <= TOLERANCE


def test_paired_difference_intervals_cover_the_true_difference_at_the_nominal_rate():
    assert abs(coverage_of_paired_difference(6) - 0.95) <= TOLERANCE


def test_the_coverage_checks_reject_broken_intervals(monkeypatch):
    """Broken variants: the bootstrap alone at n=3 covers ~75 %; an unpaired interval of a
    paired design covers ~100 % (too wide): both fall outside the tolerance."""
    with monkeypatch.context() as m:
        m.setattr(stats, "mean_interval", _bootstrap_only)
        assert abs(coverage_of_mean(3) - 0.95) > TOLERANCE
    with monkeypatch.context() as m:
        m.setattr(stats, "paired_difference", stats.unpaired_difference)
        assert abs(coverage_of_paired_difference(6) - 0.95) > TOLERANCE


def test_holm_adjusts_step_down_and_monotone():
    # sorted: 0.005*4 = 0.02, 0.01*3 = 0.03, 0.03*2 = 0.06, 0.04*1 = 0.04 -> monotone 0.06
    assert stats.holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert stats.holm([0.5]) == [0.5] and stats.holm([0.6, 0.7]) == [1.0, 1.0]


def check_holm_applied(holm) -> None:
    """Four arms, six pairs: a and b differ by 2 with a raw p of 0.03; c and d lie far off
    (four tiny p-values) and equal to each other (p ~ 1). Holm multiplies a vs b's p by 2
    (the fifth smallest of six): 0.06, not resolved, and the text says why."""
    base = [50.0 + 10 * s for s in range(4)]
    a = list(base)
    b = [x + 2.0 + e for x, e in zip(base, (0.9, -0.9, 0.9, -0.9))]
    c = [x + 40 + e for x, e in zip(base, (0.3, -0.2, 0.1, -0.3))]
    d = [x + 40 + e for x, e in zip(base, (-0.2, 0.3, -0.1, 0.2))]
    comp = compare_arms([arm("a", a), arm("b", b), arm("c", c), arm("d", d)], ["eval/fid"], DIRS, ["arm"])
    (ab,) = [v for v in comp.verdicts["eval/fid"] if {v.first, v.second} == {"a", "b"}]
    assert 0.025 < ab.diff.p < 0.05 and ab.pairs == 6
    assert ab.p_holm == pytest.approx(2 * ab.diff.p)
    assert not ab.resolved and "before Holm over 6 pairs" in ab.text, ab.text


def test_holm_correction_is_applied_over_the_pairs_of_a_metric(monkeypatch):
    check_holm_applied(stats.holm)
    monkeypatch.setattr(stats, "holm", lambda ps: list(ps))  # broken variant: no correction
    with pytest.raises(AssertionError):
        check_holm_applied(stats.holm)


def test_seeds_needed_matches_the_noncentral_t_power():
    from scipy import stats as sps

    n = stats.seeds_needed(1.0, 1.0, 0.05, paired=True)

    def power(k: int) -> float:
        critical = sps.t.ppf(0.975, k - 1)
        return sps.nct.sf(critical, k - 1, math.sqrt(k)) + sps.nct.cdf(-critical, k - 1, math.sqrt(k))

    assert power(n) >= 0.8 > power(n - 1) and n == 10  # the textbook value for d = 1 (paired)
    assert stats.seeds_needed(0.0, 1.0, 0.05, True) is None


def test_evaluation_and_training_variance_are_kept_apart():
    """Three seeds, each with 4 sample sets: seed means 10, 20, 30 (training sd 10) and a
    within-seed sd of 1 (evaluation): the split recovers both."""
    sets = [[m - 1.5, m - 0.5, m + 0.5, m + 1.5] for m in (10.0, 20.0, 30.0)]
    train_sd, eval_sd = stats.variance_parts(sets)
    within = np.std([-1.5, -0.5, 0.5, 1.5], ddof=1)
    assert eval_sd == pytest.approx(within)
    assert train_sd == pytest.approx(math.sqrt(100 - within**2 / 4))
    e = stats.eval_interval(sets)
    assert e.value == pytest.approx(20.0) and e.hi - e.lo < 2.5  # the sets alone: a narrow interval
    assert stats.mean_interval([10.0, 20.0, 30.0]).hi - stats.mean_interval([10.0, 20.0, 30.0]).lo > 40
