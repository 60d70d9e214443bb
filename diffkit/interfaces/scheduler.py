"""The discrete DDPM chain (Ho et al. 2020): the noise process at integer t.

Notation: beta_t is the variance added at step t, alpha_t = 1 - beta_t and
abar_t = prod_{s<=t} alpha_s. Timesteps are 0-based: t in [0, T-1]. As a
[`NoiseProcess`][diffkit.interfaces.process.NoiseProcess] it has alpha(t) = sqrt(abar_t),
sigma(t) = sqrt(1 - abar_t).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from diffkit.errors import ConfigError
from diffkit.interfaces import timesteps as spacing_helpers
from diffkit.interfaces.process import CLEAN, PREDICTION_TYPES, Level, NoiseProcess, broadcast


def extract(a: Tensor, t: Tensor, x_shape: torch.Size) -> Tensor:
    """Gather `a[t]` per sample and shape it to broadcast over `x_shape`.

    a: (T,), t: (B,) long on a's device -> (B, 1, ..., 1) with len(x_shape) dims.
    """
    return broadcast(a.gather(0, t), x_shape)


class Scheduler(NoiseProcess):
    """A variance schedule beta_0..beta_{T-1} and everything derived from it.

    Subclasses compute the betas from their own parameters and call
    ``super().__init__(betas, prediction_type=..., rescale_zero_terminal_snr=...)``.
    All derived tensors are buffers, so ``.to(device)`` moves them; they are
    computed in float64 and stored in float32.

    Args:
        betas: (T,) variances in (0, 1] (1 only at T-1 for zero terminal SNR).
        prediction_type: what the denoiser predicts: "eps" (noise), "x0", "v"
            (v = sqrt(abar) eps - sqrt(1 - abar) x0, Salimans & Ho 2022) or "F"
            (EDM's preconditioned output; see `diffkit.interfaces.prediction`).
        rescale_zero_terminal_snr: rescale so that abar_{T-1} = 0 (Lin et al. 2023).
        sigma_data: the data's standard deviation, used by prediction_type "F" only.
    """

    num_timesteps: int
    prediction_type: str
    discrete = True
    variance_preserving = True

    # the buffers registered in __init__, (T,) float32
    betas: Tensor
    alphas: Tensor
    alphas_cumprod: Tensor
    alphas_cumprod_prev: Tensor
    sqrt_recip_alphas: Tensor
    sqrt_alphas_cumprod: Tensor
    sqrt_one_minus_alphas_cumprod: Tensor
    posterior_variance: Tensor
    posterior_log_variance_clipped: Tensor
    posterior_mean_coef1: Tensor
    posterior_mean_coef2: Tensor

    def __init__(
        self,
        betas: Tensor,
        *,
        prediction_type: str = "eps",
        rescale_zero_terminal_snr: bool = False,
        sigma_data: float = 0.5,
    ) -> None:
        if prediction_type == "velocity":
            raise ConfigError(
                "scheduler.prediction_type='velocity' needs a continuous process (dx_t/dt); "
                f"the discrete chain allows {', '.join(p for p in PREDICTION_TYPES if p != 'velocity')}"
            )
        super().__init__(prediction_type=prediction_type, sigma_data=sigma_data)
        betas = betas.to(torch.float64)
        if betas.ndim != 1 or betas.numel() < 1:
            raise ConfigError("scheduler.num_timesteps must be >= 1")
        if rescale_zero_terminal_snr:
            betas = _rescale_zero_terminal_snr(betas)
        if not bool(((betas > 0) & (betas <= 1)).all()):
            raise ConfigError(
                f"scheduler betas must lie in (0, 1]; got min {betas.min().item():.3g}, max {betas.max().item():.3g}"
            )
        self.num_timesteps = int(betas.numel())
        self.zero_terminal_snr = bool(rescale_zero_terminal_snr)

        alphas = 1.0 - betas
        abar = torch.cumprod(alphas, 0)
        abar_prev = torch.cat([abar.new_ones(1), abar[:-1]])
        # Posterior q(x_{t-1} | x_t, x_0) = N(coef1 x_0 + coef2 x_t, var)  (Ho et al. eq. 6-7).
        posterior_variance = betas * (1.0 - abar_prev) / (1.0 - abar)
        tensors = {
            "betas": betas,
            "alphas": alphas,
            "alphas_cumprod": abar,
            "alphas_cumprod_prev": abar_prev,
            "sqrt_recip_alphas": alphas.rsqrt(),
            "sqrt_alphas_cumprod": abar.sqrt(),
            "sqrt_one_minus_alphas_cumprod": (1.0 - abar).sqrt(),
            "posterior_variance": posterior_variance,
            # var_0 is 0; clip the log like Ho et al. so it stays finite.
            "posterior_log_variance_clipped": torch.log(
                torch.cat([posterior_variance[1:2], posterior_variance[1:]])
                if self.num_timesteps > 1
                else posterior_variance.clamp_min(1e-20)
            ),
            "posterior_mean_coef1": betas * abar_prev.sqrt() / (1.0 - abar),
            "posterior_mean_coef2": (1.0 - abar_prev) * alphas.sqrt() / (1.0 - abar),
        }
        for name, value in tensors.items():
            self.register_buffer(name, value.to(torch.float32), persistent=False)

    # -- the noise process at integer t -------------------------------------
    def alpha_sigma(self, t: Tensor) -> tuple[Tensor, Tensor]:
        """sqrt(abar_t), sqrt(1 - abar_t); t: (B,) long."""
        return self.sqrt_alphas_cumprod.gather(0, t), self.sqrt_one_minus_alphas_cumprod.gather(0, t)

    def sample_t(self, n: int, generator: torch.Generator | None, device: torch.device | str) -> Tensor:
        """t ~ U{0, ..., T-1}: (n,) long."""
        return torch.randint(0, self.num_timesteps, (n,), generator=generator, device=device)

    def time_tensor(self, t: int | float, n: int, like: Tensor) -> Tensor:
        return torch.full((n,), int(t), device=like.device, dtype=torch.long)

    def evenly_spaced_t(self, n: int, device: torch.device | str) -> Tensor:
        return torch.linspace(0, self.num_timesteps - 1, n, device=device).round().long()

    def levels(self, steps: int, spacing: str) -> list[Level]:
        """The timesteps of `spacing` (`diffkit.interfaces.timesteps`), then clean data."""
        abar = self.alphas_cumprod.detach().double().cpu().tolist()
        ts = spacing_helpers.discrete_timesteps(abar, steps, spacing)
        return [Level(t, math.sqrt(abar[t]), math.sqrt(1 - abar[t])) for t in ts] + [CLEAN]

    def q_mean_variance(self, x0: Tensor, t: Tensor) -> tuple[Tensor, Tensor]:
        """Mean (B, ...) and variance (B, 1, ...) of q(x_t | x_0)."""
        mean = extract(self.sqrt_alphas_cumprod, t, x0.shape) * x0
        return mean, extract(1.0 - self.alphas_cumprod, t, x0.shape)

    def posterior(self, x0: Tensor, x_t: Tensor, t: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """q(x_{t-1} | x_t, x_0): mean (B, ...), variance and clipped log-variance (B, 1, ...).

        mean = beta_t sqrt(abar_{t-1}) / (1 - abar_t) x_0 + (1 - abar_{t-1}) sqrt(alpha_t) / (1 - abar_t) x_t
        """
        mean = (
            extract(self.posterior_mean_coef1, t, x_t.shape) * x0
            + extract(self.posterior_mean_coef2, t, x_t.shape) * x_t
        )
        var = extract(self.posterior_variance, t, x_t.shape)
        log_var = extract(self.posterior_log_variance_clipped, t, x_t.shape)
        return mean, var, log_var

    def extra_repr(self) -> str:
        return f"num_timesteps={self.num_timesteps}, prediction_type={self.prediction_type!r}"


def _rescale_zero_terminal_snr(betas: Tensor) -> Tensor:
    """Shift and scale sqrt(abar) so that sqrt(abar_0) is kept and sqrt(abar_{T-1}) = 0.

    Lin et al. 2023, "Common Diffusion Noise Schedules and Sample Steps are Flawed", Alg. 1.
    """
    sqrt_abar = torch.cumprod(1.0 - betas, 0).sqrt()
    first, last = sqrt_abar[0].clone(), sqrt_abar[-1].clone()
    sqrt_abar = (sqrt_abar - last) * first / (first - last)
    abar = sqrt_abar**2
    alphas = torch.cat([abar[:1], abar[1:] / abar[:-1]])
    return 1.0 - alphas
