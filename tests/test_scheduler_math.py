"""The linear schedule and the closed-form distributions against their formulas."""

from __future__ import annotations

import pytest
import torch

from diffkit.interfaces import extract


def linear(plugins, T=300, **kw):
    return plugins.registry.build("scheduler", {"name": "linear", "num_timesteps": T, **kw})


def test_linear_schedule_tensors_match_closed_forms(plugins):
    s = linear(plugins, T=300, beta_start=1e-4, beta_end=0.02)
    betas = torch.linspace(1e-4, 0.02, 300, dtype=torch.float64)
    alphas = 1 - betas
    abar = torch.cumprod(alphas, 0)
    abar_prev = torch.cat([torch.ones(1, dtype=torch.float64), abar[:-1]])
    expected = {
        "betas": betas,
        "alphas": alphas,
        "alphas_cumprod": abar,
        "alphas_cumprod_prev": abar_prev,
        "sqrt_recip_alphas": 1 / alphas.sqrt(),
        "sqrt_alphas_cumprod": abar.sqrt(),
        "sqrt_one_minus_alphas_cumprod": (1 - abar).sqrt(),
        "posterior_variance": betas * (1 - abar_prev) / (1 - abar),
    }
    for name, value in expected.items():
        torch.testing.assert_close(getattr(s, name), value.float(), rtol=1e-6, atol=1e-8, msg=name)
    assert s.posterior_variance[0] == 0
    # abar_t = prod (1 - beta_s): the closed form of the product, checked at the last step
    assert abs(s.alphas_cumprod[-1].item() - torch.prod(1 - betas).item()) < 1e-7


def test_schedule_tensors_are_buffers_that_follow_the_module(plugins):
    s = linear(plugins).to(torch.float64)
    assert s.betas.dtype == torch.float64
    assert "betas" in dict(s.named_buffers())
    assert s.state_dict() == {}  # derived from the config, never stored in checkpoints


def test_extract_gathers_per_sample_and_broadcasts(plugins):
    s = linear(plugins, T=10)
    t = torch.tensor([0, 9, 3])
    out = extract(s.alphas_cumprod, t, torch.Size([3, 2, 4, 4]))
    assert out.shape == (3, 1, 1, 1)
    torch.testing.assert_close(out.flatten(), s.alphas_cumprod[t])


def test_forward_process_mean_and_variance_statistically(plugins):
    s = linear(plugins, T=1000)
    g = torch.Generator().manual_seed(0)
    n = 200_000
    x0 = torch.full((n, 1, 1, 1), 0.7)
    for step in (0, 100, 500, 999):
        t = torch.full((n,), step)
        x_t = s.add_noise(x0, torch.randn(x0.shape, generator=g), t)
        abar = s.alphas_cumprod[step].item()
        mean, var = s.q_mean_variance(x0[:1], t[:1])
        assert abs(mean.item() - abar**0.5 * 0.7) < 1e-6 and abs(var.item() - (1 - abar)) < 1e-6
        se = ((1 - abar) / n) ** 0.5
        assert abs(x_t.mean().item() - abar**0.5 * 0.7) < 5 * se + 1e-6
        assert abs(x_t.var().item() - (1 - abar)) < 0.01 * (1 - abar) + 1e-6


def test_posterior_mean_matches_bayes_rule(plugins):
    """q(x_{t-1}|x_t,x_0) ∝ q(x_t|x_{t-1}) q(x_{t-1}|x_0): product of two Gaussians in x_{t-1}."""
    s = linear(plugins, T=100).to(torch.float64)  # buffers are float32-rounded: rel 1e-5
    x0 = torch.tensor([[[[0.3]]], [[[-0.8]]]], dtype=torch.float64)
    x_t = torch.tensor([[[[1.1]]], [[[0.2]]]], dtype=torch.float64)
    t = torch.tensor([5, 60])
    mean, var, _ = s.posterior(x0, x_t, t)
    for i, step in enumerate(t.tolist()):
        a, b = s.alphas[step].item(), s.betas[step].item()
        abar_prev = s.alphas_cumprod_prev[step].item()
        # precision-weighted combination of N(x_t / sqrt(a), b / a) and N(sqrt(abar_prev) x0, 1 - abar_prev)
        p1, m1 = a / b, x_t[i].item() / a**0.5
        p2, m2 = 1 / (1 - abar_prev), abar_prev**0.5 * x0[i].item()
        assert var[i].item() == pytest.approx(1 / (p1 + p2), rel=1e-5)
        assert mean[i].item() == pytest.approx((p1 * m1 + p2 * m2) / (p1 + p2), rel=1e-5)


@pytest.mark.parametrize("prediction_type", ["eps", "x0", "v"])
def test_prediction_targets_round_trip(plugins, prediction_type):
    s = linear(plugins, T=50, prediction_type=prediction_type).to(torch.float64)
    g = torch.Generator().manual_seed(1)
    x0, eps = (
        torch.randn(4, 1, 3, 3, generator=g, dtype=torch.float64),
        torch.randn(4, 1, 3, 3, generator=g, dtype=torch.float64),
    )
    t = torch.tensor([0, 10, 30, 49])
    x_t = s.add_noise(x0, eps, t)
    x0_hat, eps_hat = s.split_prediction(s.target(x0, eps, t), x_t, t)
    torch.testing.assert_close(x0_hat, x0)
    torch.testing.assert_close(eps_hat, eps)
