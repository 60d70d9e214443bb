"""Heun's second-order method on the probability-flow ODE (Karras et al. 2022, Alg. 1; with
``churn`` > 0 their stochastic Alg. 2)."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from diffkit.errors import ConfigError
from diffkit.interfaces import ContinuousProcess, Level, NoiseProcess, Sampler, Trajectory


def _number(name: str, value: object, low: float, inclusive: bool = True) -> float:
    ok = (
        not isinstance(value, bool) and isinstance(value, (int, float)) and (value >= low if inclusive else value > low)
    )
    if not ok:
        raise ConfigError(f"sampler.{name}={value!r} must be a number {'>=' if inclusive else '>'} {low}")
    return float(value)  # type: ignore[arg-type]


class HeunSampler(Sampler):
    """In the variance-exploding coordinates x/alpha with sigma = sigma_t / alpha_t,
    the ODE is dx/dsigma = eps_hat. Each step takes the Euler step (which is DDIM, eta = 0)

        x' = alpha' x0_hat + sigma_t' eps_hat

    then evaluates eps_hat' at (x', t') and corrects with the mean slope:

        x_next = x' + alpha' (sigma' - sigma) (eps_hat' - eps_hat) / 2.

    The last step (to sigma = 0) and steps from sigma > sigma_max stay Euler: there the
    trapezoid over a huge sigma interval is unreliable while the Euler step, which uses
    x0_hat directly, is nearly exact (sigma = inf under zero terminal SNR). So `steps`
    levels cost at most 2 steps - 1 model evaluations.

    With churn > 0 (continuous processes), each step from sigma in [churn_sigma_min,
    churn_sigma_max] first raises the noise to sigma_hat = sigma (1 + gamma),
    gamma = min(churn / steps, sqrt(2) - 1), by adding sqrt(sigma_hat^2 - sigma^2) s_noise z
    (Karras et al. 2022, Alg. 2, lines 4-6).

    Args:
        steps: levels visited (default 25).
        spacing: leading | trailing | linspace (discrete chains; a continuous process then
            uses its own grid) | karras | log_snr | uniform_t.
        sigma_max: no correction from sigma above this (80, the top of Karras et al.'s schedule).
        clip_sample: keep x0_hat in [-1, 1] (and re-derive eps_hat) at every step: true (clamp,
            the default), dynamic (Imagen's thresholding) or false.
        churn: S_churn (0: deterministic Alg. 1).
        churn_sigma_min, churn_sigma_max: S_tmin, S_tmax, the noise levels churn applies to.
        s_noise: S_noise, the scale of the added noise.
    """

    default_steps = 25

    def __init__(
        self,
        steps: int | None = None,
        spacing: str = "trailing",
        sigma_max: float = 80.0,
        clip_sample: bool | str = True,
        churn: float = 0.0,
        churn_sigma_min: float = 0.0,
        churn_sigma_max: float = math.inf,
        s_noise: float = 1.0,
    ) -> None:
        super().__init__(steps, spacing, clip_sample)
        self.sigma_max = _number("sigma_max", sigma_max, 0, inclusive=False)
        self.churn = _number("churn", churn, 0)
        self.churn_sigma_min = _number("churn_sigma_min", churn_sigma_min, 0)
        self.churn_sigma_max = _number("churn_sigma_max", churn_sigma_max, 0)
        self.s_noise = _number("s_noise", s_noise, 0)

    def add_churn(
        self, x: Tensor, cur: Level, scheduler: NoiseProcess, n: int, generator: torch.Generator | None
    ) -> tuple[Tensor, Level]:
        """Alg. 2 lines 4-6: raise the noise of x from cur's sigma to sigma_hat; -> (x_hat, level of sigma_hat)."""
        if (
            self.churn == 0
            or math.isinf(cur.sigma_ve)
            or not self.churn_sigma_min <= cur.sigma_ve <= self.churn_sigma_max
        ):
            return x, cur
        if not isinstance(scheduler, ContinuousProcess):
            raise ConfigError(
                f"sampler.churn={self.churn} needs a continuous process (the raised noise level is no timestep); "
                f"{type(scheduler).__name__} is discrete: use churn=0 or a continuous scheduler"
            )
        gamma = min(self.churn / n, math.sqrt(2) - 1)
        lam_hat = torch.tensor([-2 * math.log(cur.sigma_ve * (1 + gamma))], dtype=torch.float64)
        hat = scheduler.level(float(scheduler.t_from_log_snr(lam_hat)))
        z = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
        extra = math.sqrt(max(hat.sigma_ve**2 - cur.sigma_ve**2, 0.0)) * self.s_noise
        return hat.alpha * (x / cur.alpha + extra * z), hat

    def update(self, x: Tensor, cur: Level, nxt: Level, path: Trajectory) -> Tensor:
        x, cur = self.add_churn(x, cur, path.scheduler, path.steps, path.generator)
        # 1. Euler step
        x0, eps = path.denoise(x, cur)
        x_euler = nxt.alpha * x0 + nxt.sigma * eps
        if nxt.t is None or cur.sigma_ve > self.sigma_max:
            return x_euler
        # 2. Heun correction with the slope at the Euler point
        _, eps_next = path.denoise(x_euler, nxt)
        return x_euler + nxt.alpha * (nxt.sigma_ve - cur.sigma_ve) * (eps_next - eps) / 2
