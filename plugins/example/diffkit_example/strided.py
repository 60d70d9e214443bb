"""Ancestral DDPM sampling on a strided subset of the timesteps ("respacing",
Nichol & Dhariwal 2021, sec. 4)."""

from __future__ import annotations

import torch
from torch import Tensor

from diffkit import ConfigError, Sampler, Scheduler
from diffkit.interfaces import GuidanceFn, ModelFn


class StridedSampler(Sampler):
    """DDPM on timesteps tau_1 > ... > tau_n spaced evenly over [0, T-1].

    Notation: a_i = abar_{tau_i}, a_prev = abar of the next tau (1 after the last).
    Each step uses the respaced variance beta'_i = 1 - a_i / a_prev and the posterior
      x_prev = sqrt(a_prev) beta'_i / (1 - a_i) x0_hat + sqrt(1 - beta'_i) (1 - a_prev) / (1 - a_i) x_t
               + sigma_i z,   sigma_i^2 = beta'_i (1 - a_prev) / (1 - a_i),
    with no noise on the last step. With n = T this is exactly DDPM (Ho et al. 2020, Alg. 2).

    Args:
        steps: n, the number of model evaluations (default: T).
        clip_sample: clamp x0_hat to [-1, 1] (the default, like the built-in samplers).
    """

    def __init__(self, steps: int | None = None, clip_sample: bool = True) -> None:
        super().__init__(steps)
        self.clip_sample = clip_sample

    @staticmethod
    def timesteps(num_timesteps: int, n: int) -> list[int]:
        """n distinct timesteps evenly spaced over [0, T-1], descending from T-1 (to 0 when n >= 2)."""
        last = num_timesteps - 1
        return sorted({round(last - i * last / max(n - 1, 1)) for i in range(n)}, reverse=True)

    @torch.inference_mode()
    def sample(
        self,
        model: ModelFn,
        scheduler: Scheduler,
        noise: Tensor,
        *,
        steps: int | None = None,
        generator: torch.Generator | None = None,
        guidance: GuidanceFn | None = None,
    ) -> Tensor:
        n = self.num_steps(scheduler, steps)
        if not 1 <= n <= scheduler.num_timesteps:
            raise ConfigError(f"sampler.steps={n} must lie in [1, {scheduler.num_timesteps}] (scheduler.num_timesteps)")
        abar = scheduler.alphas_cumprod.double()
        taus = self.timesteps(scheduler.num_timesteps, n)
        x = noise
        for i, tau in enumerate(taus):
            t = torch.full((x.shape[0],), tau, device=x.device, dtype=torch.long)
            out = model(x, t)
            if guidance is not None:
                out = guidance(out, x, t)
            # 1. predict x_0 from the model output
            x0, _ = scheduler.split_prediction(out, x, t)
            if self.clip_sample:
                x0 = x0.clamp(-1, 1)
            # 2. respaced beta and the posterior q(x_prev | x_t, x0_hat)
            a = abar[tau]
            a_prev = abar[taus[i + 1]] if i + 1 < len(taus) else abar.new_tensor(1.0)
            beta = 1 - a / a_prev
            coef_x0 = float(a_prev.sqrt() * beta / (1 - a))
            coef_xt = float((1 - beta).sqrt() * (1 - a_prev) / (1 - a))
            sigma = float((beta * (1 - a_prev) / (1 - a)).sqrt())
            # 3. sample x_prev (z is drawn on the last step too, so streams match DDPM)
            z = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
            x = coef_x0 * x0 + coef_xt * x + (sigma if i + 1 < len(taus) else 0.0) * z
        return x
