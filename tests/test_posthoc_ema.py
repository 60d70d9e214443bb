"""Post-hoc EMA maths: power-function profiles, their closed-form inner products and the
reconstruction of a directly tracked EMA from snapshots. Each check also runs against
deliberately broken variants (mutants), which it must reject."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from diffkit import posthoc_ema as ph
from diffkit.ema_snapshots import load_ema_weights
from diffkit_builtin.ema.power import PowerEMA


def _wrong_root(sigma_rel: float) -> float:  # a sign slip in the cubic
    k = float(sigma_rel) ** -2
    return float(np.roots([1.0, 7.0, 16.0 + k, 12.0 - k]).real.max())


def _dot_without_min(t_a, g_a, t_b, g_b):  # forgets that a profile ends at its own T
    t_a, g_a, t_b, g_b = (np.asarray(v, dtype=np.float64) for v in (t_a, g_a, t_b, g_b))
    return (g_a + 1) * (g_b + 1) / ((g_a + g_b + 1) * np.maximum(t_a, t_b))


def _beta_off_by_one(step: int, gamma: float) -> float:  # (1 - 1/t)^gamma: the profile of gamma - 1
    return (1.0 - 1.0 / step) ** gamma


MUTANTS: dict[str, tuple[object, str, Callable]] = {
    "wrong_root": (ph, "sigma_rel_to_gamma", _wrong_root),
    "dot_without_min": (ph, "profile_dot", _dot_without_min),
    "beta_off_by_one": (ph, "beta", _beta_off_by_one),
}


def apply(mutant: str, monkeypatch: pytest.MonkeyPatch, only: object = None) -> None:
    """Install `mutant` everywhere its function was imported by name (or in module `only`)."""
    import diffkit.ema_snapshots as snaps
    from diffkit_builtin.ema import power

    module, name, fn = MUTANTS[mutant]
    for target in [only] if only is not None else (module, snaps, power):
        if hasattr(target, name):
            monkeypatch.setattr(target, name, fn)


def profile(tau: np.ndarray, t: float, gamma: float) -> np.ndarray:
    """p_{t,gamma}(tau) = (gamma + 1) tau^gamma / t^(gamma + 1) on (0, t]."""
    return np.where(tau <= t, (gamma + 1) * (tau / t) ** gamma / t, 0.0)


# -- sigma_rel <-> gamma ------------------------------------------------------
def check_gamma(sigma_rel: float) -> None:
    gamma = ph.sigma_rel_to_gamma(sigma_rel)
    tau = np.linspace(0, 1, 400_001)
    p = profile(tau, 1.0, gamma)
    mean = np.trapezoid(tau * p, tau)
    std = math.sqrt(np.trapezoid((tau - mean) ** 2 * p, tau))
    assert std == pytest.approx(sigma_rel, rel=1e-5)  # the profile's std, numerically
    assert ph.gamma_to_sigma_rel(gamma) == pytest.approx(sigma_rel, rel=1e-12)


@pytest.mark.parametrize("sigma_rel", [0.05, 0.08, 0.10, 0.2])
def test_gamma_has_the_requested_relative_width(sigma_rel):
    check_gamma(sigma_rel)
    assert ph.sigma_rel_to_gamma(0.05) == pytest.approx(16.97, abs=0.01)  # EDM2's two defaults
    assert ph.sigma_rel_to_gamma(0.10) == pytest.approx(6.94, abs=0.01)


def test_gamma_check_rejects_a_wrong_root(monkeypatch):
    apply("wrong_root", monkeypatch)
    with pytest.raises(AssertionError):
        check_gamma(0.08)


def test_sigma_rel_out_of_range_is_a_config_error():
    from diffkit.errors import ConfigError

    for bad in (0.0, -0.1, 0.3):
        with pytest.raises(ConfigError, match="sigma_rel"):
            ph.sigma_rel_to_gamma(bad)


# -- closed-form inner products -------------------------------------------------
CASES = [(1.0, 0.05, 1.0, 0.10), (0.3, 0.05, 1.0, 0.08), (1.0, 0.12, 0.55, 0.05), (0.7, 0.2, 0.4, 0.2)]


def check_dot(t_a: float, s_a: float, t_b: float, s_b: float) -> None:
    g_a, g_b = ph.sigma_rel_to_gamma(s_a), ph.sigma_rel_to_gamma(s_b)
    tau = np.linspace(0, max(t_a, t_b), 2_000_001)
    numeric = np.trapezoid(profile(tau, t_a, g_a) * profile(tau, t_b, g_b), tau)
    assert float(ph.profile_dot(t_a, g_a, t_b, g_b)) == pytest.approx(numeric, rel=1e-4)


@pytest.mark.parametrize("case", CASES)
def test_closed_form_inner_products_match_numerical_integration(case):
    check_dot(*case)


def test_inner_product_check_rejects_a_broken_formula(monkeypatch):
    apply("dot_without_min", monkeypatch)
    with pytest.raises(AssertionError):
        check_dot(*CASES[1])


# -- the discrete EMA is the profile integrated over each step -------------------
def check_beta(gamma: float, steps: int = 50) -> None:
    """Feeding one-hot weights e_i shows each step's weight in the average after `steps`."""
    weights = np.zeros(steps)
    avg = np.zeros(steps)
    for t in range(1, steps + 1):
        b = ph.beta(t, gamma)
        avg = b * avg + (1 - b) * np.eye(steps)[t - 1]
    weights = avg
    i = np.arange(1, steps + 1)
    expected = (i ** (gamma + 1) - (i - 1) ** (gamma + 1)) / steps ** (gamma + 1)
    np.testing.assert_allclose(weights, expected, rtol=1e-9, atol=1e-15)


def test_power_ema_weights_are_the_profile_integrated_per_step():
    check_beta(ph.sigma_rel_to_gamma(0.1))


def test_beta_check_rejects_an_off_by_one_exponent(monkeypatch):
    apply("beta_off_by_one", monkeypatch)
    with pytest.raises(AssertionError):
        check_beta(ph.sigma_rel_to_gamma(0.1))


# -- reconstruction from snapshots vs a directly tracked EMA ---------------------
STEPS, TARGET = 1024, 0.08
SNAPSHOT_EVERY = (256, 128, 64, 32, 16)  # 4 ... 64 snapshots


class Vector(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.zeros(64, dtype=torch.float64))


def trajectory(steps: int) -> torch.Tensor:
    """(steps, 64): a drift toward 1 plus a random walk: weights far from 0 that keep moving."""
    gen = torch.Generator().manual_seed(0)
    t = torch.arange(1, steps + 1, dtype=torch.float64)[:, None] / steps
    walk = torch.randn(steps, 64, generator=gen, dtype=torch.float64).cumsum(0) / math.sqrt(steps)
    return 1.0 + torch.sin(3 * t + torch.linspace(0, 3, 64, dtype=torch.float64)) * (1 - t) + 0.3 * walk


def reconstruction_error(run_dir: Path, snapshot_every: int) -> float:
    """||rebuilt - tracked|| / ||raw - tracked|| at the last step (fp32 snapshots)."""
    model = Vector()
    ema = PowerEMA(model, sigma_rels=[0.05, 0.10], snapshot_every=snapshot_every, dtype="fp32", track=[TARGET])
    for step, theta in enumerate(trajectory(STEPS), start=1):
        with torch.no_grad():
            model.w.copy_(theta)
        ema.update(model, step)
        if step % 256 == 0:
            ema.snapshot(run_dir, step)
    tracked = ema.averages[-1].w.detach()
    rebuilt = load_ema_weights(run_dir, TARGET)["w"].to(torch.float64)
    return float((rebuilt - tracked).norm() / (model.w.detach() - tracked).norm())


def check_reconstruction(tmp: Path) -> list[float]:
    errors = [reconstruction_error(tmp / str(every), every) for every in SNAPSHOT_EVERY]
    counts = [STEPS // every for every in SNAPSHOT_EVERY]
    assert all(a > b for a, b in itertools.pairwise(errors)), errors  # falls with every doubling
    assert errors[-1] < 0.02, errors  # 64 snapshots: within 2% of the tracked EMA's distance from the raw weights
    rate = np.polyfit(np.log(counts), np.log(errors), 1)[0]
    assert rate < -1.0, (rate, errors)
    return errors


def test_reconstruction_matches_the_tracked_ema_and_converges(tmp_path, capsys):
    errors = check_reconstruction(tmp_path)
    counts = [STEPS // every for every in SNAPSHOT_EVERY]
    rate = np.polyfit(np.log(counts), np.log(errors), 1)[0]
    with capsys.disabled():
        print(
            f"\npost-hoc EMA: snapshots {counts} -> relative error {[f'{e:.2e}' for e in errors]}; error ~ n^{rate:.2f}"
        )


@pytest.mark.parametrize("mutant", ["solver_wrong_root", "dot_without_min", "beta_off_by_one"])
def test_reconstruction_check_rejects_mutants(mutant, tmp_path, monkeypatch):
    import diffkit.ema_snapshots as snaps

    if mutant == "solver_wrong_root":  # the solve assumes other exponents than the tracking used
        apply("wrong_root", monkeypatch, only=snaps)
    else:
        apply(mutant, monkeypatch)
    with pytest.raises(AssertionError):
        check_reconstruction(tmp_path)


SNAPS = ph.pairs((s, [16.97, 6.94]) for s in (100, 200, 300, 400))


def check_average(sum_to_one: bool) -> None:
    """A target outside the snapshots' span still gets weights summing to 1 (an average)."""
    x = ph.solve_weights(*SNAPS, 400, [ph.sigma_rel_to_gamma(0.15)], sum_to_one=sum_to_one)
    assert x.sum() == pytest.approx(1.0, abs=1e-9)


def test_weights_sum_to_one_and_rebuild_a_snapshot_exactly():
    check_average(True)
    x = ph.solve_weights(*SNAPS, 400, [6.94])
    np.testing.assert_allclose(x[:, 0], np.eye(8)[7], atol=1e-6)  # the target is the last snapshot itself
    assert ph.profile_error(*SNAPS, x, 400, 6.94) < 1e-6


def test_average_check_rejects_the_unconstrained_solve():
    with pytest.raises(AssertionError):
        check_average(False)
