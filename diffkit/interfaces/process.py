"""The noise process every scheduler implements: x_t = alpha(t) x_0 + sigma(t) eps.

Notation (Kingma et al. 2021, "Variational Diffusion Models"): alpha(t), sigma(t) > 0,
log-SNR lambda(t) = log(alpha^2 / sigma^2), decreasing in t; the VE noise level
sigma_ve = sigma / alpha = exp(-lambda / 2) is Karras et al.'s sigma. The discrete DDPM
chain is the case t in {0..T-1}, alpha_t = sqrt(abar_t), sigma_t = sqrt(1 - abar_t);
EDM is alpha = 1, sigma = t; rectified flow alpha = 1 - t, sigma = t.

Every prediction target converts here, and only here (see `diffkit.interfaces.prediction`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from diffkit.errors import ConfigError
from diffkit.interfaces import prediction

PREDICTION_TYPES = prediction.PREDICTION_TYPES


@dataclass(frozen=True)
class Level:
    """One point of a sampling grid: the time `t` the model is called at (None: clean
    data, after the last step) and the process's alpha, sigma there (host floats)."""

    t: int | float | None
    alpha: float
    sigma: float

    @property
    def sigma_ve(self) -> float:
        """sigma / alpha (inf where alpha = 0)."""
        return self.sigma / self.alpha if self.alpha > 0 else float("inf")


CLEAN = Level(None, 1.0, 0.0)


def broadcast(v: Tensor, x_shape: torch.Size) -> Tensor:
    """(B,) -> (B, 1, ..., 1) with len(x_shape) dims: the one broadcasting helper
    (``extract`` gathers a per-step table, then broadcasts)."""
    return v.reshape(v.shape[0], *((1,) * (len(x_shape) - 1)))


class NoiseProcess(nn.Module, ABC):
    """x_t = alpha(t) x_0 + sigma(t) eps, eps ~ N(0, I), over discrete or continuous t.

    Subclasses implement `alpha_sigma`, `sample_t` (the training-time
    density of t) and `levels` (the sampling grids); continuous processes
    subclass [`ContinuousProcess`][diffkit.interfaces.continuous.ContinuousProcess], the discrete
    DDPM chain is [`Scheduler`][diffkit.interfaces.scheduler.Scheduler].

    Args:
        prediction_type: what the denoiser predicts: eps, x0, v (alpha eps - sigma x0),
            velocity (dx_t/dt) or F (EDM's preconditioned output, with ``sigma_data``).
        sigma_data: the data's standard deviation in EDM's c_skip / c_out / c_in.
    """

    #: how registration errors name the base class of the scheduler kind.
    kind_label = "diffkit.Scheduler (the discrete chain) or diffkit.NoiseProcess"
    #: the scale of the network's time input: it sees `model_time` in about [0, T].
    num_timesteps: int = 1000
    prediction_type: str
    #: t is an integer index (a table row per t) rather than a real number.
    discrete: bool = False
    #: alpha^2 + sigma^2 = 1 exactly, so the v conversion needs no normalisation.
    variance_preserving: bool = False
    #: the network sees c_in x_t, c_in = 1 / sqrt(sigma^2 + alpha^2 sigma_data^2) (EDM).
    scale_input: bool = False
    #: the spacing a sampler uses when it asks for a discrete spacing on this process.
    default_spacing: str = "trailing"

    def __init__(self, *, prediction_type: str = "eps", sigma_data: float = 0.5) -> None:
        super().__init__()
        if prediction_type not in PREDICTION_TYPES:
            raise ConfigError(
                f"scheduler.prediction_type={prediction_type!r} is not allowed; "
                f"use one of {', '.join(PREDICTION_TYPES)}"
            )
        if isinstance(sigma_data, bool) or not isinstance(sigma_data, (int, float)) or not sigma_data > 0:
            raise ConfigError(f"scheduler.sigma_data={sigma_data!r} must be a number > 0")
        self.prediction_type = prediction_type
        self.sigma_data = float(sigma_data)

    # -- what a process defines ------------------------------------------
    @abstractmethod
    def alpha_sigma(self, t: Tensor) -> tuple[Tensor, Tensor]:
        """alpha(t), sigma(t): t (B,) -> two (B,) float tensors."""

    def alpha_sigma_derivative(self, t: Tensor) -> tuple[Tensor, Tensor]:
        """d alpha / dt, d sigma / dt at t (B,); needed by the ``velocity`` target."""
        raise ConfigError(
            f"scheduler.prediction_type='velocity' needs a continuous process with dalpha/dt; "
            f"{type(self).__name__} has none (use eps, x0, v or F)"
        )

    @abstractmethod
    def sample_t(self, n: int, generator: torch.Generator | None, device: torch.device | str) -> Tensor:
        """n training times (n,) from the process's training density."""

    @abstractmethod
    def levels(self, steps: int, spacing: str) -> list[Level]:
        """The `steps` levels a sampler visits, noisiest first, then `CLEAN`."""

    @abstractmethod
    def time_tensor(self, t: int | float, n: int, like: Tensor) -> Tensor:
        """t as the (n,) tensor the model and the conversions take (long or float)."""

    @abstractmethod
    def evenly_spaced_t(self, n: int, device: torch.device | str) -> Tensor:
        """n times from least to most noisy, for figures of the forward process."""

    def model_time(self, t: Tensor) -> Tensor:
        """What the network's time embedding sees, on the scale of ``num_timesteps``."""
        return t

    # -- derived quantities ------------------------------------------------
    def coefficients(self, t: Tensor, x_shape: torch.Size, dtype: torch.dtype | None = None) -> tuple[Tensor, Tensor]:
        """alpha(t), sigma(t) shaped (B, 1, ..., 1) to broadcast over x_shape."""
        a, s = self.alpha_sigma(t)
        if dtype is not None:
            a, s = a.to(dtype), s.to(dtype)
        return broadcast(a, x_shape), broadcast(s, x_shape)

    def add_noise(self, x0: Tensor, noise: Tensor, t: Tensor) -> Tensor:
        """Sample q(x_t | x_0): x_t = alpha(t) x_0 + sigma(t) eps. x0, noise: (B, ...); t: (B,)."""
        a, s = self.coefficients(t, x0.shape, x0.dtype)
        return a * x0 + s * noise

    def snr(self, t: Tensor) -> Tensor:
        """alpha^2 / sigma^2, t: (B,) -> (B,)."""
        a, s = self.alpha_sigma(t)
        return a.square() / s.square()

    def log_snr(self, t: Tensor) -> Tensor:
        """lambda(t) = log(alpha^2 / sigma^2), t: (B,) -> (B,)."""
        a, s = self.alpha_sigma(t)
        return 2 * (a.log() - s.log())

    def model_input(self, x_t: Tensor, t: Tensor) -> tuple[Tensor, Tensor]:
        """What the network is called with: (c_in x_t, model_time(t)); c_in = 1 unless ``scale_input``."""
        if not self.scale_input:
            return x_t, self.model_time(t)
        a, s = self.coefficients(t, x_t.shape, x_t.dtype)
        return x_t * (s.square() + (a * self.sigma_data).square()).rsqrt(), self.model_time(t)

    def prior_scale(self, level: Level) -> float:
        """The standard deviation of x_t at the first sampling level, used to scale unit noise
        (1 for a variance-preserving process, sigma for VE / flow processes)."""
        return 1.0 if self.variance_preserving else level.sigma

    # -- prediction targets: the one place they convert ----------------------
    def _coefficient_set(
        self, t: Tensor, x_shape: torch.Size, dtype: torch.dtype, kind: str
    ) -> prediction.Coefficients:
        a, s = self.coefficients(t, x_shape, dtype)
        da = ds = None
        if kind == "velocity":
            da, ds = (broadcast(v.to(dtype), x_shape) for v in self.alpha_sigma_derivative(t))
        return prediction.Coefficients(a, s, da, ds, self.sigma_data, self.variance_preserving)

    def target(self, x0: Tensor, noise: Tensor, t: Tensor) -> Tensor:
        """The training target of ``prediction_type`` given x_0, eps (B, ...) and t (B,)."""
        c = self._coefficient_set(t, x0.shape, x0.dtype, self.prediction_type)
        return prediction.target(self.prediction_type, c, x0, noise)

    def split_prediction(
        self, model_output: Tensor, x_t: Tensor, t: Tensor, prediction_type: str | None = None
    ) -> tuple[Tensor, Tensor]:
        """A model output of ``prediction_type`` (default: the process's) -> (x0_hat, eps_hat).
        Samplers pass ``prediction_type="x0"`` to re-derive eps from a clipped x0_hat."""
        kind = prediction_type or self.prediction_type
        c = self._coefficient_set(t, x_t.shape, x_t.dtype, kind)
        return prediction.split(kind, c, model_output, x_t)

    def x0_scale(self, t: Tensor) -> Tensor:
        """k(t) = |d x0_hat / d output| for the process's prediction type, (B,): an MSE on the
        target equals k^-2 times the MSE on x0, so a weight on the x0 loss w_x0 becomes
        w_x0 k^2 on the target's loss."""
        dtype = torch.float64 if t.dtype == torch.float64 else torch.float32
        c = self._coefficient_set(t, torch.Size((t.shape[0],)), dtype, self.prediction_type)
        return prediction.x0_scale(self.prediction_type, c)

    def extra_repr(self) -> str:
        return f"num_timesteps={self.num_timesteps}, prediction_type={self.prediction_type!r}"
