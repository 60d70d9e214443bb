"""Ancestral DDPM sampling: the step's mean, per-sample timesteps, and the Gaussian oracle."""

from __future__ import annotations

import torch

from tests.gaussian_oracle import gaussian_oracle


def build(plugins, T=100, **sampler):
    s = plugins.registry.build("scheduler", {"name": "linear", "num_timesteps": T})
    return s, plugins.registry.build("sampler", {"name": "ddpm", "clip_sample": False, **sampler})


def test_step_mean_is_the_posterior_mean_of_the_predicted_x0(plugins):
    s, ddpm = build(plugins)
    g = torch.Generator().manual_seed(0)
    x_t = torch.randn(3, 1, 4, 4, generator=g)
    eps_hat = torch.randn(3, 1, 4, 4, generator=g)
    t = torch.tensor([1, 50, 99])
    # averaging many steps from the same state isolates the mean
    n = 4000
    outs = ddpm.step(eps_hat.repeat(n, 1, 1, 1), t.repeat(n), x_t.repeat(n, 1, 1, 1), s, g)
    mean_emp = outs.view(n, 3, 1, 4, 4).mean(0)
    x0_hat = (x_t - s.sqrt_one_minus_alphas_cumprod[t].view(-1, 1, 1, 1) * eps_hat) / s.sqrt_alphas_cumprod[t].view(
        -1, 1, 1, 1
    )
    mean, var, _ = s.posterior(x0_hat, x_t, t)
    # the seed's formula: (x_t - beta_t / sqrt(1 - abar_t) eps) / sqrt(alpha_t)
    seed_mean = s.sqrt_recip_alphas[t].view(-1, 1, 1, 1) * (
        x_t - s.betas[t].view(-1, 1, 1, 1) * eps_hat / s.sqrt_one_minus_alphas_cumprod[t].view(-1, 1, 1, 1)
    )
    torch.testing.assert_close(mean, seed_mean, rtol=1e-4, atol=1e-5)
    se = (var / n).sqrt()
    assert ((mean_emp - mean).abs() < 5 * se + 1e-6).all()


def test_noise_is_skipped_only_where_t_is_zero_in_a_mixed_batch(plugins):
    s, ddpm = build(plugins)
    x_t = torch.randn(4, 1, 2, 2)
    out = torch.randn(4, 1, 2, 2)
    t = torch.tensor([0, 5, 0, 7])
    a = ddpm.step(out, t, x_t, s, torch.Generator().manual_seed(1))
    b = ddpm.step(out, t, x_t, s, torch.Generator().manual_seed(2))
    assert torch.equal(a[t == 0], b[t == 0])  # deterministic: the posterior mean
    assert not torch.allclose(a[t > 0], b[t > 0])  # stochastic


def test_gaussian_oracle_sampling_reproduces_the_data_distribution(plugins):
    """With the analytic optimal denoiser, ddpm must sample N(m, s^2) - no training involved."""
    m, sd = 0.4, 0.3
    s, ddpm = build(plugins, T=1000)
    s = s.to(torch.float64)
    g = torch.Generator().manual_seed(0)
    noise = torch.randn(16, 1, 64, 64, generator=g, dtype=torch.float64)
    x = ddpm.sample(gaussian_oracle(s, m, sd), s, noise, generator=g)
    assert abs(x.mean().item() - m) < 0.01
    assert abs(x.std().item() - sd) < 0.01
