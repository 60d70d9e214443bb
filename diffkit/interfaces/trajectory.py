"""What a sampler's update rule works with: one reverse run's model, process and noise."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import torch
from torch import Tensor

from diffkit.interfaces.process import Level, NoiseProcess

#: model(x_t: (B, C, H, W), t: (B,) the process's time, long or float) -> output of the
#: process's prediction type. The runner binds the network's input scaling (model_input).
ModelFn = Callable[[Tensor, Tensor], Tensor]
#: guidance(output, x_t, t) -> modified output (e.g. classifier-free guidance).
GuidanceFn = Callable[[Tensor, Tensor, Tensor], Tensor]


class Denoising(Protocol):
    """What a trajectory needs of its sampler (``diffkit.interfaces.Sampler`` is one)."""

    clip_sample: bool | str

    def denoise(
        self,
        model: ModelFn,
        scheduler: NoiseProcess,
        x_t: Tensor,
        t: int | float,
        guidance: GuidanceFn | None = None,
        clip_sample: bool | str = False,
    ) -> tuple[Tensor, Tensor]: ...


@dataclass
class Trajectory:
    """One call of `Sampler.sample`, as its `Sampler.update` sees it.

    Attributes:
        sampler: the sampler running.
        model: the trained model, ``model(x_t, t)`` (use `denoise`, which also guides and clips).
        scheduler: the noise process the model was trained with.
        steps: the number of grid levels visited (the resolved step count).
        generator: draw all fresh noise from it (`randn_like`), so that sampling is reproducible.
        guidance: modifies the raw model output; `denoise` applies it.
        history: free for a multistep rule (e.g. earlier x0_hat), empty at the first step.
    """

    sampler: Denoising
    model: ModelFn
    scheduler: NoiseProcess
    steps: int
    generator: torch.Generator | None = None
    guidance: GuidanceFn | None = None
    history: list[Any] = field(default_factory=list)

    def denoise(self, x: Tensor, level: Level) -> tuple[Tensor, Tensor]:
        """One model evaluation at `level` -> (x0_hat, eps_hat), each (B, C, H, W), with
        guidance and the sampler's ``clip_sample`` applied, whatever the prediction type."""
        assert level.t is not None, "the clean level has no model evaluation"
        return self.sampler.denoise(self.model, self.scheduler, x, level.t, self.guidance, self.sampler.clip_sample)

    def randn_like(self, x: Tensor) -> Tensor:
        """Fresh unit Gaussian noise shaped like `x`, from `generator`."""
        return torch.randn(x.shape, generator=self.generator, device=x.device, dtype=x.dtype)
