"""The reverse-process algorithm, independent of the noise process it runs on."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable

import torch
from torch import Tensor

from diffkit.errors import ConfigError
from diffkit.interfaces.process import Level, NoiseProcess

#: model(x_t: (B, C, H, W), t: (B,) the process's time, long or float) -> output of the
#: process's prediction type. The runner binds the network's input scaling (model_input).
ModelFn = Callable[[Tensor, Tensor], Tensor]
#: guidance(output, x_t, t) -> modified output (e.g. classifier-free guidance).
GuidanceFn = Callable[[Tensor, Tensor, Tensor], Tensor]


class Sampler(ABC):
    """Draws x_0 from noise with a trained model, on any :class:`NoiseProcess`.

    ``steps`` is the number of levels of the time grid the sampler visits; None
    means the sampler's default (``default_steps``, or all T steps).
    """

    default_steps: int | None = None

    def __init__(self, steps: int | None = None) -> None:
        self.steps = steps

    @abstractmethod
    def sample(
        self,
        model: ModelFn,
        scheduler: NoiseProcess,
        noise: Tensor,
        *,
        steps: int | None = None,
        generator: torch.Generator | None = None,
        guidance: GuidanceFn | None = None,
    ) -> Tensor:
        """noise: unit Gaussian (B, C, H, W) -> x_0 (B, C, H, W), unclipped. A sampler starts
        from ``noise * scheduler.prior_scale(first level)``."""

    def denoise(
        self,
        model: ModelFn,
        scheduler: NoiseProcess,
        x_t: Tensor,
        t: int | float,
        guidance: GuidanceFn | None = None,
        clip_sample: bool = False,
    ) -> tuple[Tensor, Tensor]:
        """One model evaluation at time `t` for the whole batch -> (x0_hat, eps_hat).

        x_t: (B, C, H, W). `guidance` modifies the raw output first; `clip_sample`
        clamps x0_hat to [-1, 1] and re-derives eps_hat = (x_t - alpha x0_hat) / sigma.
        """
        tt = scheduler.time_tensor(t, x_t.shape[0], x_t)
        out = model(x_t, tt)
        if guidance is not None:
            out = guidance(out, x_t, tt)
        x0, eps = scheduler.split_prediction(out, x_t, tt)
        if clip_sample:
            x0, eps = scheduler.split_prediction(x0.clamp(-1, 1), x_t, tt, prediction_type="x0")
        return x0, eps

    def num_steps(self, scheduler: NoiseProcess, steps: int | None) -> int:
        """The step count to use: the call's, the config's, the default, or T."""
        for candidate in (steps, self.steps, self.default_steps):
            if candidate is not None:
                if isinstance(candidate, bool) or not isinstance(candidate, (int, float)) or candidate != int(candidate):
                    raise ConfigError(f"sampler.steps={candidate!r} (or --steps) must be an integer")
                return int(candidate)
        return scheduler.num_timesteps

    @staticmethod
    def start(scheduler: NoiseProcess, noise: Tensor, first: Level) -> Tensor:
        """x at the first level: unit noise times the process's prior scale there."""
        scale = scheduler.prior_scale(first)
        return noise if scale == 1.0 else noise * scale
