"""Sampling grids: which times a few-step sampler visits.

Discrete spacings pick `n` of the T training timesteps (Lin et al. 2023, Table 2); for
T = 1000 and n = 10:
  leading:  900, 800, ..., 0       (k T//n; DDIM's original choice, never visits T-1)
  trailing: 999, 899, ..., 99      (round(T - k T/n) - 1; starts at pure noise)
  linspace: 999, 888, ..., 0       (round of n points evenly over [0, T-1]; n = 1: T-1)
Grids defined by the noise level work on every process (on the discrete chain each
point is rounded to the timestep of the nearest log-SNR, so a grid may lose duplicates):
  karras:   sigma_i = (smax^(1/rho) + i / (n-1) (smin^(1/rho) - smax^(1/rho)))^rho with
            sigma = sigma/alpha the VE noise level and rho = 7 (Karras et al. 2022, eq. 5)
  log_snr:  lambda evenly spaced between the ends (DPM-Solver's "logSNR" grid)
  uniform_t: t evenly spaced (on the discrete chain the same as linspace)
A continuous process given a discrete spacing uses its own ``default_spacing``.
"""

from __future__ import annotations

import math

import numpy as np

from diffkit.errors import ConfigError

DISCRETE_SPACINGS = ("leading", "trailing", "linspace")
SPACINGS = (*DISCRETE_SPACINGS, "karras", "log_snr", "uniform_t")


def check_spacing(spacing: str) -> None:
    """Raise ConfigError unless `spacing` is one of SPACINGS."""
    if spacing not in SPACINGS:
        raise ConfigError(f"sampler.spacing={spacing!r} is not allowed; use one of {', '.join(SPACINGS)}")


def check_steps(steps: object, num_timesteps: int | None = None) -> int:
    """Raise ConfigError unless `steps` is an integer in [1, T] (T: num_timesteps, or unbounded)."""
    if (
        isinstance(steps, bool)
        or not isinstance(steps, int)
        or steps < 1
        or (num_timesteps is not None and steps > num_timesteps)
    ):
        where = f"[1, {num_timesteps}] (scheduler.num_timesteps)" if num_timesteps is not None else ">= 1"
        raise ConfigError(f"sampler.steps={steps!r} (or --steps) must be an integer in {where}")
    return int(steps)


def spaced_timesteps(num_timesteps: int, steps: int, spacing: str) -> list[int]:
    """`steps` distinct timesteps in [0, T-1], descending, for a discrete spacing. steps = T gives T-1, ..., 0."""
    check_spacing(spacing)
    check_steps(steps, num_timesteps)
    T, n = num_timesteps, steps
    if spacing == "leading":
        ts = np.arange(n) * (T // n)
    elif spacing == "trailing":
        ts = np.round(np.arange(T, 0, -T / n))[:n] - 1
    else:  # one step starts at pure noise, T-1 (np.linspace(0, T-1, 1) alone would give 0)
        ts = np.round(np.linspace(0, T - 1, n)) if n > 1 else np.array([T - 1])
    return sorted({int(t) for t in ts}, reverse=True)


def karras_sigmas(sigma_min: float, sigma_max: float, n: int, rho: float = 7.0) -> list[float]:
    """n VE noise levels from sigma_max down to sigma_min (Karras et al. 2022, eq. 5)."""
    if n == 1:
        return [sigma_max]
    hi, lo = sigma_max ** (1 / rho), sigma_min ** (1 / rho)
    return [(hi + i / (n - 1) * (lo - hi)) ** rho for i in range(n)]


def log_snr_grid(lam_min: float, lam_max: float, n: int) -> list[float]:
    """n log-SNRs evenly spaced from lam_min (noisiest) up to lam_max."""
    return [lam_min] if n == 1 else np.linspace(lam_min, lam_max, n).tolist()


def noise_level_grid(spacing: str, lam_min: float, lam_max: float, n: int, rho: float = 7.0) -> list[float]:
    """The n log-SNRs of a noise-level spacing (karras or log_snr) between lam_min (noisiest,
    first) and lam_max: the one grid both the discrete chain and continuous processes use."""
    if spacing == "karras":
        return [-2 * math.log(s) for s in karras_sigmas(math.exp(-lam_max / 2), math.exp(-lam_min / 2), n, rho)]
    if spacing == "log_snr":
        return log_snr_grid(lam_min, lam_max, n)
    raise ConfigError(f"sampler.spacing={spacing!r} is not a noise-level grid; use karras or log_snr")


def discrete_timesteps(abar: list[float], steps: int, spacing: str, rho: float = 7.0) -> list[int]:
    """The timesteps (descending, distinct) of any spacing on a chain with alphas_cumprod `abar`."""
    check_spacing(spacing)
    T = len(abar)
    if spacing in DISCRETE_SPACINGS or spacing == "uniform_t":
        return spaced_timesteps(T, steps, "linspace" if spacing == "uniform_t" else spacing)
    check_steps(steps, T)
    a = np.asarray(abar, dtype=np.float64)
    with np.errstate(divide="ignore"):
        lam = np.log(a) - np.log1p(-a)  # log-SNR per timestep, -inf where abar = 0
    finite = np.isfinite(lam)
    lam_min, lam_max = float(lam[finite].min()), float(lam[finite].max())
    targets = noise_level_grid(spacing, lam_min, lam_max, steps, rho)
    idx = np.flatnonzero(finite)
    ts = {int(idx[np.argmin(np.abs(lam[idx] - target))]) for target in targets}
    return sorted(ts, reverse=True)
