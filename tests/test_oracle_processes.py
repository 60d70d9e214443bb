"""Every sampler on every continuous process, with the Bayes-optimal denoiser of Gaussian data
x0 ~ N(M, S^2) as the model (tests/gaussian_oracle.py): the samples must be N(M, S^2) again.

Tolerances. The start is drawn from the exact marginal at the first level,
x = alpha M + sqrt(alpha^2 S^2 + sigma^2) z, with z standardised to mean 0, std 1 over its
N = 16384 pixels. The oracle is affine in x, so a deterministic sampler maps z affinely:
the sample mean and std are then exact functions of the step sizes, free of Monte Carlo
error, and the tolerance bounds the discretisation error alone (the order test shows it
vanishing at the sampler's rate). Samplers that inject fresh noise (ddpm, heun with churn)
add Monte Carlo error with standard errors S / sqrt(N) = 0.0039 (mean) and
S / sqrt(2 N) = 0.0028 (std); their tolerance adds 4 of those.
"""

from __future__ import annotations

import functools
import math

import pytest
import torch

from diffkit.interfaces import Level, prediction
from diffkit_builtin.samplers.ddim import level_step
from tests.gaussian_oracle import process_oracle

REAL_TARGET = prediction.target
REAL_STEP = level_step

M, S = 0.2, 0.5
SHAPE = (4, 1, 64, 64)
SE_MEAN, SE_STD = S / math.sqrt(math.prod(SHAPE)), S / math.sqrt(2 * math.prod(SHAPE))
PROCESSES = {
    "edm": {"name": "edm"},
    "edm_eps": {"name": "edm", "prediction_type": "eps"},
    "rectified_flow": {"name": "rectified_flow"},
    "rectified_flow_x0": {"name": "rectified_flow", "prediction_type": "x0"},
    "vp_cosine_v": {"name": "vp_cosine", "prediction_type": "v"},
}
#: sampler config, steps, discretisation tolerance on |std - S|, stochastic
SAMPLERS = {
    "ddim": ({"name": "ddim"}, 50, 0.035, False),
    "heun": ({"name": "heun"}, 25, 0.02, False),
    "dpm_solver_pp": ({"name": "dpm_solver_pp"}, 20, 0.03, False),
    "ddpm": ({"name": "ddpm"}, 200, 0.02, True),
    "heun_churn": ({"name": "heun", "churn": 5.0}, 25, 0.03, True),
}


def build(plugins, spec: dict):
    return plugins.registry.build("scheduler", spec).to(torch.float64)


def standard_noise(seed: int = 0) -> torch.Tensor:
    z = torch.randn(SHAPE, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    return (z - z.mean()) / z.std()


def errors(plugins, sampler_cfg: dict, process, steps: int, seed: int = 1) -> tuple[float, float]:
    """(mean - M, std - S) of the samples, started from the exact marginal at the first level."""
    sampler = plugins.registry.build("sampler", {**sampler_cfg, "clip_sample": False})  # Gaussian data: unbounded
    first = process.levels(steps, sampler.spacing)[0]
    x_start = first.alpha * M + math.sqrt(first.alpha**2 * S**2 + first.sigma**2) * standard_noise()
    x = sampler.sample(
        process_oracle(process, M, S),
        process,
        x_start / process.prior_scale(first),
        steps=steps,
        generator=torch.Generator().manual_seed(seed),
    )
    assert torch.isfinite(x).all()
    return x.mean().item() - M, x.std().item() - S


@pytest.mark.parametrize("sampler", SAMPLERS)
@pytest.mark.parametrize("process", PROCESSES)
def test_every_sampler_on_every_process_reproduces_gaussian_data(plugins, process, sampler):
    check_reproduces(plugins, process, sampler)


def check_reproduces(plugins, process: str, sampler: str) -> None:
    config, steps, tol_std, stochastic = SAMPLERS[sampler]
    d_mean, d_std = errors(plugins, config, build(plugins, PROCESSES[process]), steps)
    tol_mean = 0.002 + (4 * SE_MEAN if stochastic else 0)
    assert abs(d_mean) < tol_mean and abs(d_std) < tol_std + (4 * SE_STD if stochastic else 0), (d_mean, d_std)


@pytest.mark.parametrize("process", ["edm", "rectified_flow"])
@pytest.mark.parametrize(
    ("sampler", "min_order"),
    [({"name": "ddim"}, 1), ({"name": "dpm_solver_pp", "spacing": "log_snr"}, 2), ({"name": "heun"}, 1.5)],
)
def test_error_falls_at_the_samplers_order(plugins, process, sampler, min_order):
    check_order(plugins, process, sampler, min_order)


def check_order(plugins, process: str, sampler: dict, min_order: float) -> None:
    """Doubling the steps from 24 to 48 divides the std error by at least 2^order (Heun's
    last step is Euler, so 1.5; DPM-Solver++ 2M on the log-SNR grid, where its steps h are
    equal; its last step to clean data is first order)."""
    p = build(plugins, PROCESSES[process])
    e1, e2 = (abs(errors(plugins, sampler, p, n)[1]) for n in (24, 48))
    assert e2 < e1 / 2**min_order * 1.1, (e1, e2)


def test_ddim_is_the_same_ode_on_every_process(plugins):
    check_same_ode(plugins)


def check_same_ode(plugins) -> None:
    """In the VE view x / alpha the probability-flow ODE depends on sigma / alpha alone, so
    DDIM on the same Karras sigma grid gives the same samples on EDM, rectified flow and
    VP-cosine (up to float64 rounding), whichever target each network predicts."""
    outs = []
    for spec in (PROCESSES["edm"], PROCESSES["rectified_flow"], PROCESSES["vp_cosine_v"]):
        p = build(plugins, spec)
        sampler = plugins.registry.build("sampler", {"name": "ddim", "spacing": "karras", "clip_sample": False})
        first = p.levels(10, "karras")[0]
        noise = first.alpha * M + math.sqrt(first.alpha**2 * S**2 + first.sigma**2) * standard_noise()
        outs.append(sampler.sample(process_oracle(p, M, S), p, noise / p.prior_scale(first), steps=10))
    assert torch.allclose(outs[0], outs[1], atol=1e-9) and torch.allclose(outs[0], outs[2], atol=1e-9)


def test_churn_needs_a_continuous_process(plugins):
    from diffkit.errors import ConfigError

    p = plugins.registry.build("scheduler", {"name": "linear", "num_timesteps": 50})
    sampler = plugins.registry.build("sampler", {"name": "heun", "churn": 5.0, "clip_sample": False})
    with pytest.raises(ConfigError, match="sampler.churn=5.0 needs a continuous process"):
        sampler.sample(lambda x, t: torch.zeros_like(x), p, torch.zeros(1, 1, 2, 2), steps=5)


@pytest.mark.parametrize("spacing", ["karras", "log_snr"])
def test_noise_level_grids_on_the_discrete_chain(plugins, spacing):
    """karras / log_snr on `linear`: distinct descending timesteps from T-1 to 0, denser at low noise."""
    p = plugins.registry.build("scheduler", {"name": "linear"})
    ts = [level.t for level in p.levels(20, spacing)[:-1]]
    assert ts == sorted(set(ts), reverse=True) and ts[0] == 999 and ts[-1] == 0 and len(ts) >= 15
    assert ts[-2] - ts[-1] < ts[0] - ts[1]


# -- each check fails on a broken variant ---------------------------------------
def _patch(target: str, value):
    return lambda mp: mp.setattr(target, value)


def _heun_with(**attrs):
    """Build heun samplers whose attributes `attrs` are overwritten after construction."""
    from diffkit_builtin.samplers.heun import HeunSampler

    real_init = HeunSampler.__init__

    @functools.wraps(real_init)
    def init(self, *args, **kwargs):
        real_init(self, *args, **kwargs)
        self.__dict__.update(attrs)

    return lambda mp: mp.setattr(HeunSampler, "__init__", init)


MUTANTS = {
    "Heun without its correction": (
        _heun_with(sigma_max=1e-9),
        lambda pl: check_order(pl, "rectified_flow", {"name": "heun"}, 1.5),
    ),
    "DPM-Solver++ stuck at first order": (
        _patch("diffkit_builtin.samplers.dpm_solver_pp.usable_order", lambda lams, lam_next: 1),
        lambda pl: check_order(pl, "edm", {"name": "dpm_solver_pp", "spacing": "log_snr"}, 2),
    ),
    "ancestral step to a 2% too high noise level": (
        _patch(
            "diffkit_builtin.samplers.ddpm.level_step",
            lambda x0, eps, cur, nxt, eta, g: REAL_STEP(
                x0, eps, cur, Level(nxt.t, nxt.alpha, 1.02 * nxt.sigma), eta, g
            ),
        ),
        lambda pl: check_reproduces(pl, "edm", "ddpm"),
    ),
    "churn adds twice the noise": (
        _heun_with(s_noise=2.0),
        lambda pl: check_reproduces(pl, "edm", "heun_churn"),
    ),
    "velocity read as x0 - eps": (
        _patch(
            "diffkit.interfaces.prediction.target",
            lambda kind, c, x0, eps: -(c.da * x0 + c.ds * eps) if kind == "velocity" else REAL_TARGET(kind, c, x0, eps),
        ),
        check_same_ode,
    ),
}


@pytest.mark.parametrize("mutant", MUTANTS)
def test_checks_catch_broken_variants(plugins, monkeypatch, mutant):
    patch, check = MUTANTS[mutant]
    patch(monkeypatch)
    with pytest.raises(AssertionError):
        check(plugins)
