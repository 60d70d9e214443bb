"""The reverse-process algorithm, independent of the noise process it runs on."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable

import torch
from torch import Tensor

from diffkit.errors import ConfigError
from diffkit.interfaces.process import Level, NoiseProcess, broadcast

#: model(x_t: (B, C, H, W), t: (B,) the process's time, long or float) -> output of the
#: process's prediction type. The runner binds the network's input scaling (model_input).
ModelFn = Callable[[Tensor, Tensor], Tensor]
#: guidance(output, x_t, t) -> modified output (e.g. classifier-free guidance).
GuidanceFn = Callable[[Tensor, Tensor, Tensor], Tensor]
#: values of a sampler's ``clip_sample``; True is every built-in sampler's default.
CLIP_SAMPLE = (True, False, "dynamic")
#: the percentile p of dynamic thresholding (Saharia et al. 2022, sec. 2.3).
DYNAMIC_PERCENTILE = 0.995


def check_clip(clip_sample: bool | str) -> bool | str:
    """Return `clip_sample` if it is one of CLIP_SAMPLE, else raise ConfigError."""
    if not any(clip_sample is c or (isinstance(c, str) and clip_sample == c) for c in CLIP_SAMPLE):
        raise ConfigError(f"sampler.clip_sample={clip_sample!r} is not allowed; use true, false or dynamic")
    return clip_sample


def clip_x0(x0: Tensor, clip_sample: bool | str) -> Tensor:
    """x0_hat (B, C, H, W) kept in the data range [-1, 1].

    True: clamp(x0, -1, 1) (Ho et al. 2020). "dynamic": s = max(1, quantile_p |x0|) per
    sample, x0 <- clamp(x0, -s, s) / s (Imagen's dynamic thresholding, p = DYNAMIC_PERCENTILE).
    False: unchanged (the seed post's sampler).
    """
    if clip_sample == "dynamic":
        s = torch.quantile(x0.detach().flatten(1).abs().float(), DYNAMIC_PERCENTILE, dim=1).clamp_min(1.0)
        s = broadcast(s.to(x0.dtype), x0.shape)
        return x0.clamp(-s, s) / s
    return x0.clamp(-1, 1) if clip_sample else x0


class Sampler(ABC):
    """Draws x_0 from noise with a trained model, on any :class:`NoiseProcess`.

    A subclass implements ``sample``; its constructor parameters (each with a
    default) are the config keys of ``sampler``, and it calls
    ``super().__init__(steps)`` if it keeps ``steps``. Helpers for the subclass:
    ``num_steps`` (the step count to use), ``denoise`` (one model
    evaluation turned into ``(x0_hat, eps_hat)``, with guidance and clipping) and
    the class attribute ``default_steps``.

    Args:
        steps: number of timesteps the sampler visits; None: the sampler's
            ``default_steps``, or all T steps.

    ``steps`` is the number of levels of the time grid the sampler visits.
    """

    default_steps: int | None = None
    """The step count when neither the call nor the config gives one (None: all T)."""

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
        """Run the reverse process from `noise` = x_T: (B, C, H, W) -> x_0 (B, C, H, W), unclipped.

        Args:
            model: ``model(x_t, t)`` with t: (B,); returns the scheduler's
                prediction type. Pass it to ``denoise``.
            scheduler: the schedule the model was trained with.
            noise: unit Gaussian (B, C, H, W); a sampler starts from
                ``noise * scheduler.prior_scale(first level)``.
            steps: keyword-only; the step count asked for by the caller
                (``--steps``, ``eval.steps``); resolve it with ``self.num_steps(scheduler, steps)``.
            generator: keyword-only; draw all noise from it, so that sampling is reproducible.
            guidance: keyword-only; ``guidance(output, x_t, t)`` modifies the raw model
                output (classifier-free guidance); ``denoise`` applies it.
        """

    def denoise(
        self,
        model: ModelFn,
        scheduler: NoiseProcess,
        x_t: Tensor,
        t: int | float,
        guidance: GuidanceFn | None = None,
        clip_sample: bool | str = False,
    ) -> tuple[Tensor, Tensor]:
        """One model evaluation at time `t` for the whole batch -> (x0_hat, eps_hat).

        x_t: (B, C, H, W). `guidance` modifies the raw output first; `clip_sample`
        (see :func:`clip_x0`) keeps x0_hat in [-1, 1] and re-derives
        eps_hat = (x_t - alpha x0_hat) / sigma.
        """
        tt = scheduler.time_tensor(t, x_t.shape[0], x_t)
        out = model(x_t, tt)
        if guidance is not None:
            out = guidance(out, x_t, tt)
        x0, eps = scheduler.split_prediction(out, x_t, tt)
        if clip_sample:
            x0, eps = scheduler.split_prediction(clip_x0(x0, clip_sample), x_t, tt, prediction_type="x0")
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
