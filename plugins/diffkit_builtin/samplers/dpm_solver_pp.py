"""DPM-Solver++ multistep (Lu et al. 2022, "DPM-Solver++", Alg. 2), orders 1-3, data prediction."""

from __future__ import annotations

import math

from torch import Tensor

from diffkit.errors import ConfigError
from diffkit.interfaces import Level, Sampler, Trajectory


def half_log_snr(level: Level) -> float:
    """DPM-Solver's lambda = log(alpha / sigma) of a grid level: half of
    ``NoiseProcess.log_snr`` = log(alpha^2 / sigma^2); +inf for clean data, -inf at alpha = 0."""
    if level.sigma <= 0:
        return math.inf
    if level.alpha <= 0:
        return -math.inf
    return math.log(level.alpha) - math.log(level.sigma)


def usable_order(lams: list[float], lam_next: float) -> int:
    """The longest stencil of finite lambdas (newest first), and 1 when stepping to lambda = inf."""
    if math.isinf(lam_next):
        return 1
    k = 0
    while k < len(lams) and math.isfinite(lams[k]):
        k += 1
    return max(k, 1)


def multistep_update(
    x: Tensor, x0s: list[Tensor], lams: list[float], cur: Level, nxt: Level, lam_next: float
) -> Tensor:
    """One DPM-Solver++ step from lambda_s = lams[0] to lam_next, of order len(x0s).

    x0s, lams: the data predictions and lambdas of the latest steps, newest first.
    Notation: x_t = alpha x0 + sigma eps (cur, nxt: the levels), h = lam_next - lams[0],
    phi = expm1(-h) = e^{-h} - 1. Order 1 is exactly DDIM (eta = 0):
      x_next = sigma_next / sigma_s x - alpha_next phi D0
    with corrections D1 ~ h x0'(lambda) (order 2, "2M") and D2 ~ h^2 x0''(lambda)
    (order 3, "3M") from divided differences; the D2 term integrates the Taylor term
    x0'' (lambda - lambda_s)^2 / 2 exactly. (Lu et al.'s code and diffusers halve D2,
    which leaves their 3M with an O(h^3) local error, i.e. second order.)
    """
    alpha_next = nxt.alpha
    h = lam_next - lams[0]
    phi = math.expm1(-h)
    x_next = nxt.sigma / cur.sigma * x - alpha_next * phi * x0s[0]
    if len(x0s) == 2:
        r0 = (lams[0] - lams[1]) / h
        x_next = x_next - 0.5 * alpha_next * phi * (x0s[0] - x0s[1]) / r0
    elif len(x0s) == 3:
        r0, r1 = (lams[0] - lams[1]) / h, (lams[1] - lams[2]) / h
        d1_0, d1_1 = (x0s[0] - x0s[1]) / r0, (x0s[1] - x0s[2]) / r1
        d1 = d1_0 + r0 / (r0 + r1) * (d1_0 - d1_1)
        d2 = 2 * (d1_0 - d1_1) / (r0 + r1)
        x_next = x_next + alpha_next * (phi / h + 1) * d1 - alpha_next * ((phi + h) / h**2 - 0.5) * d2
    return x_next


class DPMSolverPPSampler(Sampler):
    """DPM-Solver++(2M) by default: one model evaluation per step, second order from
    the second step on. The order drops to 1 on the last step (to clean data, where
    lambda = inf) and wherever a lambda in the stencil is infinite (zero terminal SNR).

    Args:
        steps: model evaluations (default 20).
        order: 1 (= DDIM), 2 (2M) or 3 (3M).
        spacing: leading | trailing | linspace (discrete chains; a continuous process then
            uses its own grid) | karras | log_snr | uniform_t.
        clip_sample: keep x0_hat in [-1, 1] (and re-derive eps_hat) at every step: true (clamp,
            the default), dynamic (Imagen's thresholding) or false.
    """

    default_steps = 20

    def __init__(
        self, steps: int | None = None, order: int = 2, spacing: str = "trailing", clip_sample: bool | str = True
    ) -> None:
        super().__init__(steps, spacing, clip_sample)
        if order not in (1, 2, 3) or isinstance(order, bool):
            raise ConfigError(f"sampler.order={order!r} is not allowed; use 1, 2 or 3")
        self.order = order

    def update(self, x: Tensor, cur: Level, nxt: Level, path: Trajectory) -> Tensor:
        """path.history: (x0_hat, lambda) of the latest steps, newest first."""
        x0, _ = path.denoise(x, cur)
        path.history[:] = [(x0, half_log_snr(cur)), *path.history][: self.order]
        x0s, lams = [h[0] for h in path.history], [h[1] for h in path.history]
        lam_next = half_log_snr(nxt)
        k = usable_order(lams, lam_next)
        return multistep_update(x, x0s[:k], lams[:k], cur, nxt, lam_next)
