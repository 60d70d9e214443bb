"""The built-in schedules against their closed forms, zero terminal SNR, and their config."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from diffkit.config import compose
from diffkit.errors import ConfigError

T = 1000


def build(plugins, name, **kw):
    return plugins.registry.build("scheduler", {"name": name, "num_timesteps": T, **kw})


def closed_form_check(s, f, max_beta=0.999):
    """abar_i = f((i+1)/T) / f(0) wherever beta_i was not clipped; beta clipped to max_beta elsewhere."""
    t = np.arange(1, T + 1) / T
    expected = f(t) / f(0.0)
    betas = s.betas.double().numpy()
    free = betas < max_beta - 1e-6
    assert free[:-1].all() and betas[-1] == pytest.approx(max_beta)
    np.testing.assert_allclose(s.alphas_cumprod.double().numpy()[free], expected[free], rtol=1e-5, atol=1e-9)


def test_cosine_matches_nichol_dhariwal_eq_17(plugins):
    off = 0.008
    closed_form_check(build(plugins, "cosine"), lambda t: np.cos((t + off) / (1 + off) * math.pi / 2) ** 2)


def test_sigmoid_matches_chen_2023(plugins):
    sig = lambda x: 1 / (1 + np.exp(-x))  # noqa: E731
    start, end, tau = -3.0, 3.0, 0.7
    v0, v1 = sig(start / tau), sig(end / tau)
    s = build(plugins, "sigmoid", tau=tau)
    closed_form_check(s, lambda t: (v1 - sig((t * (end - start) + start) / tau)) / (v1 - v0))


def test_scaled_linear_is_linear_in_sqrt_beta(plugins):
    s = build(plugins, "scaled_linear")
    betas = np.linspace(0.00085**0.5, 0.012**0.5, T) ** 2
    np.testing.assert_allclose(s.betas.double().numpy(), betas, rtol=1e-6)
    np.testing.assert_allclose(s.alphas_cumprod.double().numpy(), np.cumprod(1 - betas), rtol=1e-5)
    assert s.betas[0].item() == pytest.approx(0.00085) and s.betas[-1].item() == pytest.approx(0.012)


@pytest.mark.parametrize("name", ["linear", "cosine", "sigmoid", "scaled_linear"])
def test_zero_terminal_snr_rescale_follows_lin_et_al_algorithm_1(plugins, name):
    """sqrt(abar) is shifted and scaled: first value kept, last value exactly 0."""
    plain, zero = build(plugins, name), build(plugins, name, rescale_zero_terminal_snr=True)
    a = plain.alphas_cumprod.double().sqrt()
    expected = (a - a[-1]) * a[0] / (a[0] - a[-1])
    torch.testing.assert_close(zero.alphas_cumprod.double().sqrt(), expected, rtol=1e-4, atol=1e-6)
    assert zero.alphas_cumprod[-1].item() == 0.0 and zero.betas[-1].item() == 1.0
    assert zero.alphas_cumprod[0].item() == pytest.approx(plain.alphas_cumprod[0].item(), rel=1e-6)
    assert plain.alphas_cumprod[-1].item() > 0
    assert torch.isfinite(zero.posterior_variance).all() and torch.isfinite(zero.posterior_mean_coef1).all()


@pytest.mark.parametrize(
    ("name", "params", "message"),
    [
        ("cosine", {"offset": -0.1}, "scheduler.offset=-0.1 must be a number >= 0"),
        ("cosine", {"max_beta": 1.5}, r"scheduler.max_beta=1.5 must lie in \(0, 1\]"),
        ("sigmoid", {"start": 3.0, "end": -3.0}, "scheduler.start=3.0 must be < scheduler.end=-3.0"),
        ("sigmoid", {"tau": 0}, "scheduler.tau=0 must be > 0"),
        ("scaled_linear", {"beta_start": 0.1, "beta_end": 0.01}, "scheduler.beta_end=0.01 must be >= "),
        ("cosine", {"num_timesteps": 0}, "scheduler.num_timesteps=0 must be an integer >= 1"),
    ],
)
def test_bad_schedule_parameters_are_config_errors(plugins, name, params, message):
    with pytest.raises(ConfigError, match=message):
        plugins.registry.build("scheduler", {"name": name, **{"num_timesteps": T, **params}})


@pytest.mark.parametrize(
    ("name", "dropped", "kept"),
    [
        ("cosine", "beta_start, beta_end", {"num_timesteps"}),
        ("sigmoid", "beta_start, beta_end", {"num_timesteps"}),
        ("scaled_linear", None, {"num_timesteps", "beta_start", "beta_end"}),
    ],
)
def test_swapping_the_schedule_by_name_keeps_what_it_accepts(plugins, name, dropped, kept):
    composed = compose(None, [f"scheduler.name={name}", "scheduler.prediction_type=v"], plugins.registry)
    node = dict(composed.cfg.scheduler)
    assert set(node) == {"name", "prediction_type", *kept}
    notes = [n for n in composed.notes if n.startswith("scheduler:")]
    assert notes == ([f"scheduler: linear -> {name}; dropped {dropped} (not accepted by {name!r})"] if dropped else [])
    s = plugins.registry.build("scheduler", node)
    assert s.prediction_type == "v" and s.num_timesteps == T
