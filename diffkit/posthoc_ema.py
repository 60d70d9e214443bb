"""Post-hoc EMA (Karras et al. 2024, "Analyzing and Improving the Training Dynamics of
Diffusion Models", sec. 3 and appendix C): the averages of power-function EMA profiles,
and the least-squares weights that turn snapshots of some profiles into another.

Notation (``docs/concepts/posthoc-ema.md``): a power-function EMA of exponent gamma
taken at time T averages the weights theta(tau) with the profile

    p_{T,gamma}(tau) = (gamma + 1) tau^gamma / T^(gamma + 1)   on 0 < tau <= T, else 0,

whose relative standard deviation is sigma_rel = sqrt((gamma + 1) / ((gamma + 2)^2 (gamma + 3))).
Snapshots i with profiles p_i are combined as sum_i x_i p_i ~ p_target, x from the
normal equations A x = b, A_ij = <p_i, p_j>, b_i = <p_i, p_target> (with sum_i x_i = 1).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from diffkit.errors import ConfigError

#: the largest sigma_rel of a power-function profile with gamma >= 0 (gamma = 0: a uniform average).
MAX_SIGMA_REL = float(np.sqrt(1 / 12))


def gamma_to_sigma_rel(gamma: float | np.ndarray) -> float | np.ndarray:
    """sigma_rel = sqrt((gamma + 1) / ((gamma + 2)^2 (gamma + 3)))."""
    g = np.asarray(gamma, dtype=np.float64)
    out = np.sqrt((g + 1) / ((g + 2) ** 2 * (g + 3)))
    return float(out) if out.ndim == 0 else out


def sigma_rel_to_gamma(sigma_rel: float) -> float:
    """The exponent gamma >= 0 of relative width `sigma_rel`: the largest real root of
    gamma^3 + 7 gamma^2 + (16 - s^-2) gamma + (12 - s^-2) = 0, s = sigma_rel
    (the equation above squared and multiplied out)."""
    s = float(sigma_rel)
    if not 0 < s <= MAX_SIGMA_REL:
        raise ConfigError(
            f"sigma_rel={sigma_rel!r} is not allowed; use a number in (0, {MAX_SIGMA_REL:.4f}] "
            "(0.05-0.2 are typical; larger means a longer average)"
        )
    k = s**-2
    roots = np.roots([1.0, 7.0, 16.0 - k, 12.0 - k])
    return float(roots[np.abs(roots.imag) < 1e-9].real.max())


def beta(step: int, gamma: float) -> float:
    """The decay of a power-function EMA at optimizer step `step` (1, 2, ...):
    beta_t = (1 - 1/t)^(gamma + 1). It averages theta_1..theta_t with the weights
    (i^(gamma+1) - (i-1)^(gamma+1)) / t^(gamma+1): exactly the profile p_{t,gamma}
    integrated over (i - 1, i]."""
    return (1.0 - 1.0 / step) ** (gamma + 1.0)


def profile_dot(t_a: np.ndarray, g_a: np.ndarray, t_b: np.ndarray, g_b: np.ndarray) -> np.ndarray:
    """<p_{t_a,g_a}, p_{t_b,g_b}> = integral of their product over tau, broadcast:

        (g_a + 1)(g_b + 1) min^(g_a + g_b + 1) / ((g_a + g_b + 1) t_a^(g_a + 1) t_b^(g_b + 1)),

    min = min(t_a, t_b); computed as ratios of times (no overflow for large t or gamma)."""
    t_a, g_a, t_b, g_b = (np.asarray(v, dtype=np.float64) for v in (t_a, g_a, t_b, g_b))
    t_min = np.minimum(t_a, t_b)
    ratio = (t_min / t_a) ** (g_a + 1) * (t_min / t_b) ** (g_b + 1)
    return (g_a + 1) * (g_b + 1) * ratio / ((g_a + g_b + 1) * t_min)


def solve_weights(
    steps: Sequence[float],
    gammas: Sequence[float],
    target_step: float,
    target_gammas: Sequence[float],
    sum_to_one: bool = True,
) -> np.ndarray:
    """Least-squares weights x (n, k) of n snapshot profiles (steps[i], gammas[i]) whose sum
    is closest in L2 to each of k target profiles (target_step, target_gammas[j]).

    EDM2 solves A x = b. With `sum_to_one` (the default) x is also held to sum_i x_i = 1
    (a Lagrange multiplier: [[A, 1], [1^T, 0]] [x; lam] = [b; 1]): every profile
    integrates to 1, and the constraint keeps the result an average, so that a few
    snapshots cannot rescale the weights (whose mean is far larger than their change)."""
    t = np.asarray(steps, dtype=np.float64).reshape(-1, 1)
    g = np.asarray(gammas, dtype=np.float64).reshape(-1, 1)
    tg = np.asarray(target_gammas, dtype=np.float64).reshape(1, -1)
    a = profile_dot(t, g, t.T, g.T)  # (n, n)
    b = profile_dot(t, g, np.float64(target_step), tg)  # (n, k)
    if not sum_to_one:
        return np.linalg.lstsq(a, b, rcond=None)[0]
    n = a.shape[0]
    kkt = np.block([[a, np.ones((n, 1))], [np.ones((1, n)), np.zeros((1, 1))]])
    rhs = np.vstack([b, np.ones((1, b.shape[1]))])
    return np.linalg.lstsq(kkt, rhs, rcond=None)[0][:n]


def profile_error(
    steps: Sequence[float], gammas: Sequence[float], weights: np.ndarray, target_step: float, target_gamma: float
) -> float:
    """||sum_i x_i p_i - p_target||_2 / ||p_target||_2, from the inner products alone."""
    t = np.asarray(steps, dtype=np.float64)
    g = np.asarray(gammas, dtype=np.float64)
    x = np.asarray(weights, dtype=np.float64).reshape(-1)
    a = profile_dot(t[:, None], g[:, None], t[None, :], g[None, :])
    ts, gs = np.asarray(target_step, dtype=np.float64), np.asarray(target_gamma, dtype=np.float64)
    b = profile_dot(t, g, ts, gs)
    c = float(profile_dot(ts, gs, ts, gs))
    return float(np.sqrt(max(x @ a @ x - 2 * x @ b + c, 0.0) / c))


def pairs(snapshots: Iterable[tuple[int, Sequence[float]]]) -> tuple[list[float], list[float]]:
    """[(step, gammas of the averages in that snapshot), ...] -> flat (steps, gammas), in file order."""
    steps, gammas = [], []
    for step, gs in snapshots:
        steps += [float(step)] * len(gs)
        gammas += [float(x) for x in gs]
    return steps, gammas
