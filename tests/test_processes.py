"""The continuous noise processes against closed forms: alpha / sigma and their inverse and
derivatives, the prediction conversions, EDM's preconditioning (Karras et al. 2022, Table 1),
the training densities and the loss weightings. Each check is a function so that
``test_checks_catch_broken_variants`` can show it fails on a deliberately broken variant."""

from __future__ import annotations

import math

import pytest
import torch

from diffkit.errors import ConfigError
from diffkit.interfaces import prediction
from diffkit.interfaces.timesteps import karras_sigmas as REAL_KARRAS

PROCESSES = {
    "edm": {"name": "edm"},
    "rectified_flow": {"name": "rectified_flow"},
    "vp_cosine": {"name": "vp_cosine"},
}
TYPES = ["eps", "x0", "v", "velocity", "F"]


def build(plugins, spec: dict, **kw):
    return plugins.registry.build("scheduler", {**spec, **kw}).to(torch.float64)


def times(process, n: int = 64) -> torch.Tensor:
    """n times strictly inside the process's domain (float64)."""
    return process.t_min + (process.t_max - process.t_min) * torch.linspace(0.02, 0.98, n, dtype=torch.float64)


# -- checks ---------------------------------------------------------------------
def check_closed_forms(plugins) -> None:
    t = torch.linspace(0.01, 0.99, 9, dtype=torch.float64)
    a, s = build(plugins, PROCESSES["rectified_flow"]).alpha_sigma(t)
    assert torch.allclose(a, 1 - t) and torch.allclose(s, t)
    a, s = build(plugins, PROCESSES["edm"]).alpha_sigma(80 * t)
    assert torch.allclose(a, torch.ones_like(t)) and torch.allclose(s, 80 * t)
    vp = build(plugins, PROCESSES["vp_cosine"])
    a, s = vp.alpha_sigma(t)
    assert torch.allclose(a.square() + s.square(), torch.ones_like(t))
    ends = vp.log_snr(torch.tensor([0.0, 1.0], dtype=torch.float64))
    assert torch.allclose(ends, torch.tensor([15.0, -15.0], dtype=torch.float64), atol=1e-9)


def check_inverse_and_derivative(plugins, name: str) -> None:
    p = build(plugins, PROCESSES[name])
    t = times(p)
    assert torch.allclose(p.t_from_log_snr(p.log_snr(t)), t, rtol=1e-9, atol=1e-12)
    h = 1e-6 * (p.t_max - p.t_min)
    (a1, s1), (a0, s0) = p.alpha_sigma(t + h), p.alpha_sigma(t - h)
    da, ds = p.alpha_sigma_derivative(t)
    assert torch.allclose(da, (a1 - a0) / (2 * h), atol=1e-6) and torch.allclose(ds, (s1 - s0) / (2 * h), atol=1e-6)


def check_round_trip(plugins, name: str, kind: str) -> None:
    """target(x0, eps) -> split -> (x0, eps), and x_t = alpha x0 + sigma eps on both ends."""
    p = build(plugins, PROCESSES[name], prediction_type=kind)
    t = times(p, 8)
    g = torch.Generator().manual_seed(0)
    x0, eps = (torch.randn((8, 2, 3, 3), generator=g, dtype=torch.float64) for _ in range(2))
    x_t = p.add_noise(x0, eps, t)
    x0_hat, eps_hat = p.split_prediction(p.target(x0, eps, t), x_t, t)
    assert torch.allclose(x0_hat, x0, atol=1e-9) and torch.allclose(eps_hat, eps, atol=1e-9)


def check_edm_preconditioning(plugins) -> None:
    """Karras et al. 2022, Table 1: c_in, c_noise, and D = c_skip x + c_out F."""
    sd = 0.5
    p = build(plugins, PROCESSES["edm"], sigma_data=sd)
    sigma = torch.tensor([0.01, 0.3, 2.0, 60.0], dtype=torch.float64)
    x, f = torch.randn((4, 1, 2, 2), dtype=torch.float64), torch.randn((4, 1, 2, 2), dtype=torch.float64)
    c = sigma.reshape(-1, 1, 1, 1)
    c_skip, c_out = sd**2 / (c**2 + sd**2), c * sd / (c**2 + sd**2).sqrt()
    x_in, t_in = p.model_input(x, sigma)
    assert torch.allclose(x_in, x / (c**2 + sd**2).sqrt()) and torch.allclose(t_in, 1000 * sigma.log() / 4)
    assert torch.allclose(p.split_prediction(f, x, sigma)[0], c_skip * x + c_out * f)
    assert torch.allclose(p.x0_scale(sigma), c_out.flatten())


def check_rectified_flow_velocity(plugins) -> None:
    p = build(plugins, PROCESSES["rectified_flow"])
    x0, eps, t = torch.randn(5, 3, dtype=torch.float64), torch.randn(5, 3, dtype=torch.float64), torch.rand(5).double()
    assert torch.allclose(p.target(x0, eps, t), eps - x0)


def check_density(plugins, name: str, spec: dict, transform, loc: float, scale: float) -> None:
    """n = 20000 draws: the mean and std of transform(t) (~ N(loc, scale^2)) have standard errors
    scale / sqrt(n) and scale / sqrt(2 n); allow 5 of them (a false alarm ~ 1e-6)."""
    p = plugins.registry.build("scheduler", {**PROCESSES[name], **spec})
    n = 20000
    y = transform(p.sample_t(n, torch.Generator().manual_seed(0), "cpu").double())
    assert abs(y.mean().item() - loc) < 5 * scale / math.sqrt(n)
    assert abs(y.std().item() - scale) < 5 * scale / math.sqrt(2 * n)


def check_weightings(plugins) -> None:
    edm = build(plugins, PROCESSES["edm"])
    loss = plugins.registry.build("loss", {"name": "l2", "weighting": "edm"})
    sigma = torch.tensor([0.01, 0.5, 5.0, 80.0], dtype=torch.float64)
    assert torch.allclose(loss.weight(sigma, edm).double(), torch.ones(4, dtype=torch.float64), atol=1e-5)
    vp = build(plugins, PROCESSES["vp_cosine"], prediction_type="velocity")
    t = times(vp, 16)
    snr = vp.snr(t)
    _, ds = vp.alpha_sigma_derivative(t)
    a, s = vp.alpha_sigma(t)
    k2 = (s / (a * ds - s * vp.alpha_sigma_derivative(t)[0]).abs()).square()
    min_snr = plugins.registry.build("loss", {"name": "l2", "weighting": "min_snr", "snr_gamma": 5.0})
    assert torch.allclose(min_snr.weight(t, vp).double(), snr.clamp(max=5.0) * k2, rtol=1e-5)
    sig = plugins.registry.build("loss", {"name": "l2", "weighting": "sigmoid"})
    eps_vp = build(plugins, PROCESSES["vp_cosine"])
    assert torch.allclose(sig.weight(t, eps_vp).double(), torch.sigmoid(-eps_vp.log_snr(t)), rtol=1e-5)


def check_karras_grid(plugins) -> None:
    """EDM's grid (Karras et al. 2022, eq. 5): sigma_i^(1/rho) evenly spaced from 80 to 0.002, then 0."""
    levels = build(plugins, PROCESSES["edm"]).levels(5, "karras")
    sig = torch.tensor([level.sigma for level in levels[:-1]], dtype=torch.float64)
    root = sig ** (1 / 7)
    assert levels[-1].t is None and levels[-1].sigma == 0
    assert math.isclose(sig[0].item(), 80.0) and math.isclose(sig[-1].item(), 0.002)
    assert torch.allclose(root.diff(), torch.full((4,), (0.002 ** (1 / 7) - 80 ** (1 / 7)) / 4, dtype=torch.float64))


def _one_step(plugins, process, sampler: dict, model, steps: int = 4):
    """x after the first step of `sampler` from x = 1 at the first level, and those two levels."""
    s = plugins.registry.build("sampler", {"clip_sample": False, **sampler})  # single steps: unclipped formulas
    levels = process.levels(steps, s.spacing)
    trace = []

    def recording(x, t):
        trace.append(x.clone())
        return model(x, t)

    x0 = torch.ones(1, 1, 1, 1, dtype=torch.float64) / process.prior_scale(levels[0])
    s.sample(recording, process, x0, steps=steps)
    return trace, levels


def check_flow_euler_step(plugins) -> None:
    """On rectified flow, ddim's step from t to t' is x + (t' - t) u for any velocity u."""
    p = build(plugins, PROCESSES["rectified_flow"])
    trace, levels = _one_step(plugins, p, {"name": "ddim"}, lambda x, t: 0.3 * x - 0.7)
    x, t, t_next = 1.0, levels[0].t, levels[1].t
    assert math.isclose(trace[1].item(), x + (t_next - t) * (0.3 * x - 0.7), rel_tol=1e-12)


def check_edm_heun_step(plugins) -> None:
    """On EDM, heun's first step is Karras et al.'s Alg. 1: d = (x - D(x))/sigma,
    x' = x + (s' - s) d, x_next = x + (s' - s)(d + d') / 2, with D given directly (prediction x0)."""
    p = build(plugins, PROCESSES["edm"], prediction_type="x0")

    def denoiser(x, t):
        return 0.5 * x / (1 + t.reshape(-1, 1, 1, 1))

    trace, levels = _one_step(plugins, p, {"name": "heun"}, denoiser)
    s, s2 = levels[0].sigma, levels[1].sigma
    x = 1.0  # the start (see _one_step)
    d = (x - 0.5 * x / (1 + s)) / s
    xe = x + (s2 - s) * d
    d2 = (xe - 0.5 * xe / (1 + s2)) / s2
    assert math.isclose(trace[1].item(), xe, rel_tol=1e-12)  # the corrector evaluates at the Euler point
    assert math.isclose(trace[2].item(), x + (s2 - s) * (d + d2) / 2, rel_tol=1e-12)


# -- the tests ------------------------------------------------------------------
def test_alpha_sigma_closed_forms(plugins):
    check_closed_forms(plugins)


@pytest.mark.parametrize("name", PROCESSES)
def test_log_snr_inverse_and_derivatives(plugins, name):
    check_inverse_and_derivative(plugins, name)


@pytest.mark.parametrize("kind", TYPES)
@pytest.mark.parametrize("name", PROCESSES)
def test_every_target_converts_back_to_x0_and_eps(plugins, name, kind):
    check_round_trip(plugins, name, kind)


def test_edm_preconditioning_is_table_1(plugins):
    check_edm_preconditioning(plugins)


def test_rectified_flow_target_is_eps_minus_x0(plugins):
    check_rectified_flow_velocity(plugins)


DENSITY_CASES = {
    "edm log-normal": ("edm", {}, torch.log, -1.2, 1.2),
    "flow logit-normal": (
        "rectified_flow",
        {"density": "logit_normal", "density_loc": 0.5, "density_scale": 0.8},
        torch.logit,
        0.5,
        0.8,
    ),
    # U(0, 1): mean 1/2, std sqrt(1/12); the same standard errors bound it
    "flow uniform": ("rectified_flow", {}, lambda t: t, 0.5, math.sqrt(1 / 12)),
}


@pytest.mark.parametrize("case", DENSITY_CASES)
def test_training_densities(plugins, case):
    check_density(plugins, *DENSITY_CASES[case])


def test_weightings_in_closed_form(plugins):
    check_weightings(plugins)


def test_karras_grid_is_eq_5(plugins):
    check_karras_grid(plugins)


def test_ddim_on_rectified_flow_is_the_flow_euler_step(plugins):
    check_flow_euler_step(plugins)


def test_heun_on_edm_is_algorithm_1(plugins):
    check_edm_heun_step(plugins)


def test_bad_process_parameters_are_one_line_errors(plugins):
    with pytest.raises(ConfigError, match="scheduler.density='gamma' is not allowed; use one of uniform"):
        plugins.registry.build("scheduler", {"name": "rectified_flow", "density": "gamma"})
    with pytest.raises(ConfigError, match="prediction_type='velocity' needs a continuous process"):
        plugins.registry.build("scheduler", {"name": "linear", "prediction_type": "velocity"})
    with pytest.raises(ConfigError, match="sigma_min=80 must be < scheduler.sigma_max=1"):
        plugins.registry.build("scheduler", {"name": "edm", "sigma_min": 80, "sigma_max": 1})


# -- each check fails on a broken variant ---------------------------------------
def _broken_split(kind, c, out, x_t):
    x0, eps = REAL_SPLIT(kind, c, out, x_t)
    return (x0 * 1.001, eps) if kind == "F" else (x0, eps)


REAL_SPLIT = prediction.split


def _flipped_velocity(kind, c, out, x_t):
    return REAL_SPLIT(kind, c, -out if kind == "velocity" else out, x_t)


def _heun_full_corrector(self, x, cur, nxt, path):
    x0, eps = path.denoise(x, cur)
    x_euler = nxt.alpha * x0 + nxt.sigma * eps
    if nxt.t is None:
        return x_euler
    _, eps_next = path.denoise(x_euler, nxt)
    return x_euler + nxt.alpha * (nxt.sigma_ve - cur.sigma_ve) * (eps_next - eps)  # no / 2


MUTANTS = {
    "F conversion off by 0.1%": (
        lambda mp, pl: mp.setattr(prediction, "split", _broken_split),
        lambda pl: check_round_trip(pl, "edm", "F"),
    ),
    "flow alpha' of the wrong sign": (
        lambda mp, pl: mp.setattr(
            type(build(pl, PROCESSES["rectified_flow"])),
            "alpha_sigma_derivative",
            lambda self, t: (torch.ones_like(t), torch.ones_like(t)),
        ),
        lambda pl: check_inverse_and_derivative(pl, "rectified_flow"),
    ),
    "EDM c_noise = ln(sigma)": (
        lambda mp, pl: mp.setattr(type(build(pl, PROCESSES["edm"])), "model_time", lambda self, t: 1000 * t.log()),
        check_edm_preconditioning,
    ),
    "logit-normal ignores its scale": (
        lambda mp, pl: mp.setattr(
            "diffkit.interfaces.densities.check_density", lambda n, loc, scale: (loc or 0.0, 1.0)
        ),
        lambda pl: check_density(pl, *DENSITY_CASES["flow logit-normal"]),
    ),
    "edm weighting without k^2": (
        lambda mp, pl: mp.setattr(type(build(pl, PROCESSES["edm"])), "x0_scale", lambda self, t: torch.ones_like(t)),
        check_weightings,
    ),
    "Karras grid with rho = 3": (
        lambda mp, pl: mp.setattr(
            "diffkit.interfaces.timesteps.karras_sigmas", lambda lo, hi, n, rho: REAL_KARRAS(lo, hi, n, 3.0)
        ),
        check_karras_grid,
    ),
    "flow Euler step with the velocity's sign flipped": (
        lambda mp, pl: mp.setattr(prediction, "split", _flipped_velocity),
        check_flow_euler_step,
    ),
    "Heun without the corrector's half": (
        lambda mp, pl: mp.setattr("diffkit_builtin.samplers.heun.HeunSampler.update", _heun_full_corrector),
        check_edm_heun_step,
    ),
    "vp cosine without the logsnr clip": (
        lambda mp, pl: mp.setattr(
            type(build(pl, PROCESSES["vp_cosine"])),
            "alpha_sigma",
            lambda self, t: (torch.cos(math.pi / 2 * t), torch.sin(math.pi / 2 * t)),
        ),
        check_closed_forms,
    ),
}


@pytest.mark.parametrize("mutant", MUTANTS)
def test_checks_catch_broken_variants(plugins, monkeypatch, mutant):
    patch, check = MUTANTS[mutant]
    patch(monkeypatch, plugins)
    with pytest.raises(AssertionError):
        check(plugins)
