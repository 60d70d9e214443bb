"""Exact sampler tests: each sampler against its update written out by hand from the paper
(no statistics), the timesteps at which it calls the model, the local convergence order of
DPM-Solver++(3M), classifier-free guidance and precision/recall on a constructed set.

Every check is a plain function run twice: as a test, and under each of its mutants (a
deliberately broken formula patched in), where it must fail.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest
import torch
from torch import Tensor

from diffkit.interfaces import Level, Scheduler
from diffkit.interfaces import sampler as sampler_iface
from diffkit.interfaces import timesteps as timesteps_mod
from diffkit.runner import sample as sample_mod
from diffkit_builtin.metrics import precision_recall as pr_mod
from diffkit_builtin.samplers import ddim as ddim_mod
from diffkit_builtin.samplers import ddpm as ddpm_mod
from diffkit_builtin.samplers import dpm_solver_pp as dpm_mod

T = 10
BETAS = [0.05 + i * 0.55 / (T - 1) for i in range(T)]  # linear, beta_start 0.05, beta_end 0.6
ABAR = np.cumprod([1 - b for b in BETAS]).tolist()  # abar_t by hand, float64
TOL = dict(rtol=1e-5, atol=1e-5)  # the scheduler stores abar in float32 (relative error ~1e-7)


def scheduler(plugins, prediction_type: str = "eps") -> Scheduler:
    s = plugins.registry.build(
        "scheduler",
        {"name": "linear", "num_timesteps": T, "beta_start": 0.05, "beta_end": 0.6, "prediction_type": prediction_type},
    )
    return s.to(torch.float64)


def eps_model(x: Tensor, t: Tensor) -> Tensor:
    """An eps-prediction, affine in x_t and t: eps_hat = 0.4 x_t + 0.05 (t + 1)."""
    return 0.4 * x + 0.05 * (t.to(x.dtype) + 1).reshape(-1, *([1] * (x.ndim - 1)))


def x0_eps(x: Tensor, t: int) -> tuple[Tensor, Tensor]:
    """x0_hat = (x_t - sqrt(1 - abar) eps_hat) / sqrt(abar) for eps_model."""
    eps = 0.4 * x + 0.05 * (t + 1)
    return (x - math.sqrt(1 - ABAR[t]) * eps) / math.sqrt(ABAR[t]), eps


def x_T() -> Tensor:
    return torch.randn(2, 1, 2, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)


def run(plugins, node: dict, steps: int | None, seed: int = 7) -> Tensor:
    sampler = plugins.registry.build("sampler", {"clip_sample": False, **node})
    return sampler.sample(
        eps_model, scheduler(plugins), x_T(), steps=steps, generator=torch.Generator().manual_seed(seed)
    )


def nexts(ts: list[int]) -> list[float]:
    """abar of the following timestep, 1 (clean data) after the last."""
    return [ABAR[t] for t in ts[1:]] + [1.0]


# -- hand-written updates ----------------------------------------------------


def hand_ddim(ts: list[int], eta: float, seed: int = 7) -> Tensor:
    """Song et al. 2021, eq. 12: x' = sqrt(a') x0 + sqrt(1 - a' - s^2) eps + s z,
    s^2 = eta^2 (1 - a') / (1 - a) (1 - a / a'); z drawn in order from the sampler's generator."""
    g, x = torch.Generator().manual_seed(seed), x_T()
    for t, a2 in zip(ts, nexts(ts)):
        a = ABAR[t]
        x0, eps = x0_eps(x, t)
        s2 = eta**2 * (1 - a2) / (1 - a) * (1 - a / a2)
        x_new = math.sqrt(a2) * x0 + math.sqrt(1 - a2 - s2) * eps
        x = x_new + math.sqrt(s2) * torch.randn(x.shape, generator=g, dtype=x.dtype) if s2 > 0 else x_new
    return x


def hand_ddpm_posterior(ts: list[int], seed: int = 7) -> Tensor:
    """Ho et al. 2020, eq. 6-7 on the chain ts (all T, or respaced with beta'_i = 1 - a / a'):
    mean = sqrt(a') beta' / (1 - a) x0 + sqrt(1 - beta') (1 - a') / (1 - a) x_t,
    var = (1 - a') / (1 - a) beta', noise everywhere but the last step."""
    g, x = torch.Generator().manual_seed(seed), x_T()
    for i, (t, a2) in enumerate(zip(ts, nexts(ts))):
        a = ABAR[t]
        beta = 1 - a / a2
        x0, _ = x0_eps(x, t)
        mean = math.sqrt(a2) * beta / (1 - a) * x0 + math.sqrt(1 - beta) * (1 - a2) / (1 - a) * x
        last = i == len(ts) - 1
        if len(ts) == T or not last:  # the full chain draws z at t = 0 too (and masks it)
            z = torch.randn(x.shape, generator=g, dtype=x.dtype)
            mean = mean + (0.0 if last else math.sqrt((1 - a2) / (1 - a) * beta)) * z
        x = mean
    return x


def lam(a: float) -> float:
    """lambda = log(alpha / sigma), half the log-SNR."""
    return 0.5 * math.log(a / (1 - a))


def hand_dpm(ts: list[int], order: int) -> Tensor:
    """DPM-Solver++ multistep (Lu et al. 2022, Alg. 2 and its 3M extension), data prediction D:
    x' = sigma'/sigma x + sigma' int_{lambda}^{lambda'} e^l D(l) dl with D(l) expanded in Taylor terms:
    x' = sigma'/sigma x - alpha' (e^-h - 1) D_0                       (order 1)
         with D_0 -> (1 + 1/(2r)) D_0 - 1/(2r) D_1,  r = h_prev / h  (order 2)
         + alpha' ((e^-h - 1)/h + 1) D1 - alpha' ((e^-h - 1 + h)/h^2 - 1/2) D2  (order 3),
    D1 ~ h D'(lambda), D2 ~ h^2 D''(lambda) from the divided differences of the last three D.
    The order ramps up 1, 2, 3 over the first steps; the last step (to lambda = inf) is x0_hat."""
    x, hist = x_T(), []
    for t, a2 in zip(ts, nexts(ts)):
        a = ABAR[t]
        x0, _ = x0_eps(x, t)
        hist.insert(0, (lam(a), x0))
        if a2 == 1.0:
            x = x0
            continue
        h = lam(a2) - hist[0][0]
        k = min(order, len(hist))
        alpha2, ratio, phi = math.sqrt(a2), math.sqrt(1 - a2) / math.sqrt(1 - a), math.exp(-h) - 1
        if k == 1:
            x = ratio * x - alpha2 * phi * x0
        elif k == 2:
            r = (hist[0][0] - hist[1][0]) / h
            x = ratio * x - alpha2 * phi * ((1 + 1 / (2 * r)) * x0 - 1 / (2 * r) * hist[1][1])
        else:
            (l0, m0), (l1, m1), (l2, m2) = hist[:3]
            r0, r1 = (l0 - l1) / h, (l1 - l2) / h
            d1_0, d1_1 = (m0 - m1) / r0, (m1 - m2) / r1
            d1 = d1_0 + r0 / (r0 + r1) * (d1_0 - d1_1)
            d2 = 2 * (d1_0 - d1_1) / (r0 + r1)  # (D1_0 - D1_1) / h ~ D''(lambda) h (r0 + r1) / 2
            x = ratio * x - alpha2 * phi * m0 + alpha2 * (phi / h + 1) * d1 - alpha2 * ((phi + h) / h**2 - 0.5) * d2
    return x


def hand_heun(ts: list[int]) -> Tensor:
    """Karras et al. 2022, Alg. 1 (no churn) in y = x / sqrt(abar), sigma = sqrt((1 - abar) / abar):
    dy/dsigma = eps_hat; y_e = y + (s' - s) eps; y' = y + (s' - s) (eps + eps(y_e, t')) / 2;
    the last step (s' = 0) is Euler."""
    x = x_T()
    for t, t_next, a2 in zip(ts, [*ts[1:], None], nexts(ts)):
        a = ABAR[t]
        s, s2 = math.sqrt((1 - a) / a), math.sqrt((1 - a2) / a2)
        _, eps = x0_eps(x, t)
        y = x / math.sqrt(a)
        y_euler = y + (s2 - s) * eps
        if t_next is None:
            x = math.sqrt(a2) * y_euler
            continue
        _, eps2 = x0_eps(math.sqrt(a2) * y_euler, t_next)
        x = math.sqrt(a2) * (y + (s2 - s) * (eps + eps2) / 2)
    return x


# -- the checks ---------------------------------------------------------------


def check_ddim(eta: float) -> Callable:
    def check(plugins):
        ts = [9, 7, 4, 1]  # trailing, T=10, 4 steps: round(10 - 2.5 k) - 1
        out = run(plugins, {"name": "ddim", "eta": eta}, 4)
        expected = hand_ddpm_posterior(ts) if eta == 1 else hand_ddim(ts, eta)  # eta = 1 is the DDPM posterior
        torch.testing.assert_close(out, expected, **TOL)
        if eta == 1:
            torch.testing.assert_close(out, hand_ddim(ts, 1.0), **TOL)

    return check


def check_ddpm_full(plugins):
    torch.testing.assert_close(
        run(plugins, {"name": "ddpm"}, None), hand_ddpm_posterior(list(range(T - 1, -1, -1))), **TOL
    )


def check_ddpm_respaced(plugins):
    torch.testing.assert_close(run(plugins, {"name": "ddpm"}, 4), hand_ddpm_posterior([9, 6, 3, 0]), **TOL)


def check_dpm(order: int) -> Callable:
    def check(plugins):
        out = run(plugins, {"name": "dpm_solver_pp", "order": order}, 5)
        torch.testing.assert_close(out, hand_dpm([9, 7, 5, 3, 1], order), **TOL)  # trailing: round(10 - 2k) - 1

    return check


def check_heun(plugins):
    torch.testing.assert_close(run(plugins, {"name": "heun"}, 3), hand_heun([9, 6, 2]), **TOL)


def check_clipping(plugins):
    """x0_hat is clamped (or thresholded) and eps_hat re-derived from it: one DDIM step to t' = 4."""
    ts = [9, 4]  # trailing, 2 steps
    x = x_T()
    for mode in (True, "dynamic"):
        sampler = plugins.registry.build("sampler", {"name": "ddim", "clip_sample": mode})
        calls = []
        sampler.sample(recording(calls, keep=True), scheduler(plugins), x, steps=2)
        x0, _ = x0_eps(x, ts[0])
        assert x0.abs().max() > 1.5  # the model's x0_hat leaves the data range
        if mode is True:
            x0c = x0.clamp(-1, 1)
        else:  # Imagen: s = max(1, 99.5th percentile of |x0| per sample), x0 <- clamp(x0, -s, s) / s
            v = x0.abs().flatten(1).sort(dim=1).values  # 4 values: the percentile interpolates v[2] .. v[3]
            s = (v[:, 2] + 0.995 * 3 % 1 * (v[:, 3] - v[:, 2])).clamp_min(1).reshape(-1, 1, 1, 1)
            x0c = torch.maximum(torch.minimum(x0, s), -s) / s
        eps_c = (x - math.sqrt(ABAR[9]) * x0c) / math.sqrt(1 - ABAR[9])
        expected = math.sqrt(ABAR[4]) * x0c + math.sqrt(1 - ABAR[4]) * eps_c
        torch.testing.assert_close(calls[1][1], expected, **TOL)  # x_4, the input of the second call


def recording(calls: list, keep: bool = False):
    def model(x: Tensor, t: Tensor) -> Tensor:
        assert (t == t[0]).all()
        calls.append((int(t[0]), x.clone()) if keep else int(t[0]))
        return eps_model(x, t)

    return model


#: sampler node, steps, and the timesteps of its model calls worked out by hand.
CALLS = {
    "ddim_trailing": ({"name": "ddim"}, 4, [9, 7, 4, 1]),
    "ddim_leading": ({"name": "ddim", "spacing": "leading"}, 4, [6, 4, 2, 0]),  # k (T // n)
    "ddim_linspace": ({"name": "ddim", "spacing": "linspace"}, 4, [9, 6, 3, 0]),  # round(linspace(0, 9, 4))
    "ddpm_full": ({"name": "ddpm"}, None, list(range(9, -1, -1))),
    "ddpm_respaced": ({"name": "ddpm"}, 4, [9, 6, 3, 0]),
    "dpm_solver_pp": ({"name": "dpm_solver_pp", "order": 3}, 4, [9, 7, 4, 1]),
    "heun": ({"name": "heun"}, 3, [9, 6, 6, 2, 2]),  # Euler at t, correction at t'; the last step Euler only
}


def check_calls(case: str) -> Callable:
    def check(plugins):
        node, steps, expected = CALLS[case]
        calls: list[int] = []
        plugins.registry.build("sampler", node).sample(
            recording(calls), scheduler(plugins), x_T(), steps=steps, generator=torch.Generator().manual_seed(0)
        )
        assert calls == expected

    return check


def check_order_3(plugins):
    """Local error of one 3M step from exact history on the probability-flow ODE of Gaussian
    data N(m, s^2): x(lambda) = alpha m + sqrt(alpha^2 s^2 + sigma^2) w, x0_hat = m + alpha s^2
    (x - alpha m) / (alpha^2 s^2 + sigma^2). A method of order 3 has local error O(h^4):
    halving h divides it by ~16 (by ~8 at order 2); we require > 2^3.5."""
    m, s, w = 0.2, 0.5, torch.tensor([-1.5, 0.3, 2.0], dtype=torch.float64)

    def abar(lmb: float) -> float:
        return 1 / (1 + math.exp(-2 * lmb))

    def exact(lmb: float) -> tuple[Tensor, Tensor]:
        alpha, sigma2 = math.sqrt(abar(lmb)), 1 - abar(lmb)
        x = alpha * m + math.sqrt(alpha**2 * s**2 + sigma2) * w
        return x, m + alpha * s**2 * (x - alpha * m) / (alpha**2 * s**2 + sigma2)

    def local_error(h: float, lmb: float) -> float:
        lams = [lmb, lmb - h, lmb - 2 * h]
        x0s = [exact(v)[1] for v in lams]
        cur, nxt = (Level(None, math.sqrt(abar(v)), math.sqrt(1 - abar(v))) for v in (lmb, lmb + h))
        out = dpm_mod.multistep_update(exact(lmb)[0], x0s, lams, cur, nxt, lmb + h)
        return (out - exact(lmb + h)[0]).abs().max().item()

    errors = [local_error(h, -1.0) for h in (0.2, 0.1, 0.05)]
    orders = [math.log2(e1 / e2) for e1, e2 in zip(errors, errors[1:])]
    assert all(o > 3.5 for o in orders), (errors, orders)


def check_guidance(plugins):
    """out = out_uncond + s (out_cond - out_uncond) (Ho & Salimans 2022), through generate:
    one DDIM step from t = T-1 returns x0_hat of the guided eps."""

    class Denoiser(torch.nn.Module):
        num_classes = 10

        def forward(self, x, t, y):
            return (0.1 * (y.to(x.dtype) + 1)).reshape(-1, 1, 1, 1) * x + 0.01 * t.to(x.dtype).reshape(-1, 1, 1, 1)

    sched = scheduler(plugins).float()
    sampler = plugins.registry.build("sampler", {"name": "ddim", "clip_sample": False})
    out = sample_mod.generate(
        Denoiser(),
        sched,
        sampler,
        3,
        (1, 2, 2),
        device=torch.device("cpu"),
        seed=5,
        steps=1,
        class_label=3,
        guidance_scale=2.5,
    )
    x = torch.randn((3, 1, 2, 2), generator=torch.Generator().manual_seed(5)).double()
    cond, uncond = 0.4 * x + 0.09, 1.1 * x + 0.09  # labels 3 and the null label 10, t = 9
    eps = uncond + 2.5 * (cond - uncond)
    expected = (x - math.sqrt(1 - ABAR[9]) * eps) / math.sqrt(ABAR[9])
    torch.testing.assert_close(out.double(), expected, rtol=1e-4, atol=1e-4)  # float32 sampling


def check_precision_recall(plugins):
    """1-D features. real 0, 1, 2, 3, 10; fake 0.5, 2.9, 5, 17.5, 18.2 (hand-worked radii):
    k=1: real radii 1, 1, 1, 1, 7 -> fakes inside: 0.5, 2.9, 5 (|5 - 10| <= 7) -> precision 3/5;
         fake radii 2.4, 2.1, 2.1, 0.7, 0.7 -> reals inside: 0, 1, 2, 3 -> recall 4/5.
    k=2: real radii 2, 1, 1, 2, 8 -> 0.5, 2.9, 5, 17.5 inside (18.2 is 8.2 from 10) -> 4/5;
         fake radii 4.5, 2.4, 4.5, 12.5, 13.2 -> 10 is 7.5 from 17.5 -> recall 5/5."""
    real = torch.tensor([0.0, 1.0, 2.0, 3.0, 10.0], dtype=torch.float64)[:, None]
    fake = torch.tensor([0.5, 2.9, 5.0, 17.5, 18.2], dtype=torch.float64)[:, None]
    assert pr_mod.precision_recall(real, fake, k=1) == pytest.approx((0.6, 0.8))
    assert pr_mod.precision_recall(real, fake, k=2) == pytest.approx((0.8, 1.0))


CHECKS: dict[str, Callable] = {
    "ddim_eta0": check_ddim(0.0),
    "ddim_eta0.5": check_ddim(0.5),
    "ddim_eta1": check_ddim(1.0),
    "ddpm_full": check_ddpm_full,
    "ddpm_respaced": check_ddpm_respaced,
    "dpm_order1": check_dpm(1),
    "dpm_order2": check_dpm(2),
    "dpm_order3": check_dpm(3),
    "heun": check_heun,
    "clipping": check_clipping,
    **{f"calls_{case}": check_calls(case) for case in CALLS},
    "order3_convergence": check_order_3,
    "guidance": check_guidance,
    "precision_recall": check_precision_recall,
}


@pytest.mark.parametrize("name", CHECKS)
def test_exact(plugins, name):
    CHECKS[name](plugins)


# -- mutants: plausible bugs, each of which its check must catch ---------------

ORIGINAL = {
    "level_step": ddim_mod.level_step,
    "multistep_update": dpm_mod.multistep_update,
    "spaced_timesteps": timesteps_mod.spaced_timesteps,
    "levels": Scheduler.levels,
    "knn_radii": pr_mod.knn_radii,
}


def ddim_bug(bug: str) -> Callable:
    def step(x0, eps, cur, nxt, eta, generator):
        a, a2 = cur.alpha**2, nxt.alpha**2
        var = (eta if bug == "eta_not_squared" else eta**2) * (1 - a2) / (1 - a) * (1 - a / a2)
        keep = nxt.sigma**2 if bug == "var_not_subtracted" else max(nxt.sigma**2 - var, 0.0)
        coef = nxt.alpha**2 if bug == "x0_coef_not_sqrt" else nxt.alpha
        x = coef * x0 + math.sqrt(keep) * eps
        if var > 0:
            x = x + math.sqrt(var) * torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
        return x

    return step


def truncated_update(max_order: int) -> Callable:
    """A multistep update that silently drops to a lower order (a lost correction term)."""
    return lambda x, x0s, lams, *rest: ORIGINAL["multistep_update"](x, x0s[:max_order], lams[:max_order], *rest)


def halved_d2(x, x0s, lams, cur, nxt, lam_next):
    """The 3M update of Lu et al.'s code and diffusers: D2 = (D1_0 - D1_1) / (r0 + r1), half of
    h^2 D''; locally O(h^3), so second order."""
    out = ORIGINAL["multistep_update"](x, x0s, lams, cur, nxt, lam_next)
    if len(x0s) < 3:
        return out
    h = lam_next - lams[0]
    r0, r1 = (lams[0] - lams[1]) / h, (lams[1] - lams[2]) / h
    d2 = 2 * ((x0s[0] - x0s[1]) / r0 - (x0s[1] - x0s[2]) / r1) / (r0 + r1)
    return out + 0.5 * nxt.alpha * ((math.expm1(-h) + h) / h**2 - 0.5) * d2


def level_step_eta0(x0, eps, cur, nxt, eta, generator):
    """The respaced DDPM chain run with DDIM's deterministic step (eta ignored)."""
    return ORIGINAL["level_step"](x0, eps, cur, nxt, 0.0, generator)


def large_variance_step(x0, eps, cur, nxt, eta, generator):
    """The ancestral step with sigma_t^2 = beta_t = 1 - abar_t / abar_{t-1} instead of the posterior variance."""
    if nxt.t is None:
        return ORIGINAL["level_step"](x0, eps, cur, nxt, eta, generator)
    beta = 1 - cur.alpha**2 / nxt.alpha**2
    z = torch.randn(x0.shape, generator=generator, device=x0.device, dtype=x0.dtype)
    return nxt.alpha * x0 + math.sqrt(max(nxt.sigma**2 - beta, 0.0)) * eps + math.sqrt(beta) * z


def spacing_bug(kind: str) -> Callable:
    def spaced(T, n, spacing):
        ts = ORIGINAL["spaced_timesteps"](T, n, spacing)
        if kind == "shift":  # off by one: starts at T-2, ends one later
            return [max(t - 1, 0) for t in ts] if ts[0] == T - 1 else [t + 1 for t in ts]
        return ts[:-1]  # drops the last timestep

    return spaced


def dpm_lambda_bug(level: Level) -> float:
    """lambda = log(alpha), the log of sigma forgotten."""
    return math.log(level.alpha) if 0 < level.alpha < 1 else math.inf * (1 if level.alpha >= 1 else -1)


def stale_levels(self, steps, spacing):
    """Each level keeps its t but carries the noise level of the following one (clean data
    after the last): every step runs from the next level's alpha, sigma to the one after."""
    levels = ORIGINAL["levels"](self, steps, spacing)
    return [Level(cur.t, nxt.alpha, nxt.sigma) for cur, nxt in zip(levels, levels[1:])] + [levels[-1]]


def swapped_guidance(denoiser, scheduler, null_label, scale):
    def guide(out, x, t):
        uncond = denoiser(*scheduler.model_input(x, t), torch.full_like(t, null_label))
        return out + scale * (uncond - out)

    return guide


def identity_clip(x0, clip_sample):
    return x0


def knn_radii_with_self(features, k):
    """kthvalue(k) counts the point itself as its own nearest neighbour."""
    return torch.cdist(features, features).kthvalue(k, dim=1).values


def _spacing_everywhere(mp, kind: str) -> None:
    """Every sampler's grid comes from Scheduler.levels -> discrete_timesteps -> spaced_timesteps."""
    mp.setattr(timesteps_mod, "spaced_timesteps", spacing_bug(kind))


MUTANTS: dict[str, tuple[str, Callable]] = {
    "ddim_x0_coef": ("ddim_eta0", lambda mp: mp.setattr(ddim_mod, "level_step", ddim_bug("x0_coef_not_sqrt"))),
    "ddim_eta_not_squared": ("ddim_eta0.5", lambda mp: mp.setattr(ddim_mod, "level_step", ddim_bug("eta_not_squared"))),
    "ddim_var_not_subtracted": (
        "ddim_eta1",
        lambda mp: mp.setattr(ddim_mod, "level_step", ddim_bug("var_not_subtracted")),
    ),
    "ddpm_variance_beta": ("ddpm_full", lambda mp: mp.setattr(ddpm_mod, "level_step", large_variance_step)),
    "ddpm_respaced_eta0": ("ddpm_respaced", lambda mp: mp.setattr(ddpm_mod, "level_step", level_step_eta0)),
    "dpm_lambda_without_sigma": ("dpm_order1", lambda mp: mp.setattr(dpm_mod, "half_log_snr", dpm_lambda_bug)),
    "dpm_2m_loses_correction": ("dpm_order2", lambda mp: mp.setattr(dpm_mod, "multistep_update", truncated_update(1))),
    "dpm_3m_loses_correction": ("dpm_order3", lambda mp: mp.setattr(dpm_mod, "multistep_update", truncated_update(2))),
    "heun_stale_levels": ("heun", lambda mp: mp.setattr(Scheduler, "levels", stale_levels)),
    "clip_ignored": ("clipping", lambda mp: mp.setattr(sampler_iface, "clip_x0", identity_clip)),
    **{
        f"calls_{case}_shifted": (f"calls_{case}", lambda mp: _spacing_everywhere(mp, "shift"))
        for case in CALLS
        if case != "ddpm_full"
    },
    "calls_ddpm_full_drops_t0": ("calls_ddpm_full", lambda mp: _spacing_everywhere(mp, "drop")),
    "order3_is_order2": ("order3_convergence", lambda mp: mp.setattr(dpm_mod, "multistep_update", truncated_update(2))),
    "order3_halved_d2": ("order3_convergence", lambda mp: mp.setattr(dpm_mod, "multistep_update", halved_d2)),
    "guidance_swapped": ("guidance", lambda mp: mp.setattr(sample_mod, "classifier_free_guidance", swapped_guidance)),
    "knn_counts_self": ("precision_recall", lambda mp: mp.setattr(pr_mod, "knn_radii", knn_radii_with_self)),
}


def test_every_check_has_a_mutant():
    assert {check for check, _ in MUTANTS.values()} == set(CHECKS)


@pytest.mark.parametrize("mutant", MUTANTS)
def test_each_check_fails_on_its_mutant(plugins, monkeypatch, mutant):
    check, patch = MUTANTS[mutant]
    patch(monkeypatch)
    with pytest.raises(AssertionError):
        CHECKS[check](plugins)
