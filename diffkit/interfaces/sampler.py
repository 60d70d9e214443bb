"""The reverse-process algorithm, independent of the noise process it runs on."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import torch
from torch import Tensor

from diffkit.errors import ConfigError
from diffkit.interfaces.process import Level, NoiseProcess, broadcast
from diffkit.interfaces.timesteps import check_spacing
from diffkit.interfaces.trajectory import GuidanceFn, ModelFn, Trajectory

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
    """Draws x_0 from noise with a trained model, on any `NoiseProcess`.

    The base runs every sampler the same way: it resolves the step count
    (`num_steps`), takes the grid ``scheduler.levels(steps, spacing)`` (noisiest
    first, then clean data), starts from unit noise times the process's prior scale
    there (`start`), and calls `update` once per pair of neighbouring levels. A
    subclass implements `update`, its rule for one step; `Trajectory.denoise` gives it
    (x0_hat, eps_hat) with guidance and ``clip_sample`` applied.

    The constructor parameters (each with a default) are the config keys of
    ``sampler``; a subclass with more parameters passes these three on with
    ``super().__init__(steps, spacing, clip_sample)``.

    Args:
        steps: grid levels visited; None: the class's ``default_steps``, or all T.
        spacing: the time grid (`diffkit.interfaces.timesteps`): leading | trailing |
            linspace (discrete chains; a continuous process then uses its own
            ``default_spacing``) | karras | log_snr | uniform_t.
        clip_sample: keep x0_hat in [-1, 1] (and re-derive eps_hat) at every step: true
            (clamp), dynamic (Imagen's thresholding) or false.
    """

    default_steps: int | None = None
    """The step count when neither the call nor the config gives one (None: all T)."""

    def __init__(self, steps: int | None = None, spacing: str = "trailing", clip_sample: bool | str = True) -> None:
        check_spacing(spacing)
        self.steps, self.spacing, self.clip_sample = steps, spacing, check_clip(clip_sample)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """A sampler written for plugin API 1.0/1.1 overrides `sample` and has no `update`: it keeps working."""
        super().__init_subclass__(**kwargs)
        if "sample" in cls.__dict__ and getattr(cls.update, "__isabstractmethod__", False):
            cls.update = Sampler._no_update  # type: ignore[method-assign]

    @abstractmethod
    def update(self, x: Tensor, cur: Level, nxt: Level, path: Trajectory) -> Tensor:
        """One step of the reverse process: x at level `cur` (B, C, H, W) -> x at `nxt`.

        Args:
            x: the current sample, at the noise level of `cur`.
            cur: the level stepped from (``cur.t`` is the time to call the model at).
            nxt: the level stepped to; ``nxt.t`` is None for clean data (the last step).
            path: the model, the process and the noise of this run; call
                ``path.denoise(x, cur)`` for (x0_hat, eps_hat).
        """

    def _no_update(self, x: Tensor, cur: Level, nxt: Level, path: Trajectory) -> Tensor:
        raise NotImplementedError(f"{type(self).__name__} overrides sample() and has no update()")

    @torch.inference_mode()
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
        """Run the reverse process from unit noise: (B, C, H, W) -> x_0 (B, C, H, W), unclipped.

        Args:
            model: ``model(x_t, t)`` with t: (B,); returns the scheduler's prediction type.
            scheduler: the noise process the model was trained with.
            noise: unit Gaussian (B, C, H, W); the run starts from it times
                ``scheduler.prior_scale(first level)``.
            steps: keyword-only; the step count asked for by the caller
                (``--steps``, ``eval.steps``), else the config's, ``default_steps`` or T.
            generator: keyword-only; all fresh noise is drawn from it.
            guidance: keyword-only; ``guidance(output, x_t, t)`` modifies the raw model
                output (classifier-free guidance).
        """
        n = self.num_steps(scheduler, steps)
        levels = scheduler.levels(n, self.spacing)
        path = Trajectory(self, model, scheduler, n, generator, guidance)
        x = self.start(scheduler, noise, levels[0])
        for cur, nxt in zip(levels, levels[1:]):
            x = self.update(x, cur, nxt, path)
        return x

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
        (see `clip_x0`) keeps x0_hat in [-1, 1] and re-derives
        eps_hat = (x_t - alpha x0_hat) / sigma. `Trajectory.denoise` calls it.
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
                if (
                    isinstance(candidate, bool)
                    or not isinstance(candidate, (int, float))
                    or candidate != int(candidate)
                ):
                    raise ConfigError(f"sampler.steps={candidate!r} (or --steps) must be an integer")
                return int(candidate)
        return scheduler.num_timesteps

    def steps_run(self, scheduler: NoiseProcess, steps: int | None) -> int:
        """The steps sampling takes: the distinct levels of the sampler's grid (the
        karras and log_snr spacings of a discrete chain may put two levels on one
        timestep, which run once); without a ``spacing`` attribute, `num_steps`."""
        n = self.num_steps(scheduler, steps)
        spacing = getattr(self, "spacing", None)
        return n if not isinstance(spacing, str) else len(scheduler.levels(n, spacing)) - 1

    @staticmethod
    def start(scheduler: NoiseProcess, noise: Tensor, first: Level) -> Tensor:
        """x at the first level: unit noise times the process's prior scale there."""
        scale = scheduler.prior_scale(first)
        return noise if scale == 1.0 else noise * scale
