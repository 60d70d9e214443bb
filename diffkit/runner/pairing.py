"""Paired designs: seed s of every arm of a sweep sees the same random numbers wherever
the arms agree, so per-seed differences between arms measure the arms, not luck.

- initial weights: the denoiser is built right after ``torch.manual_seed(seed)``, so two
  arms with the same architecture start equal whatever the other components drew;
- data order: ``Batches`` is a pure function of (seed, step);
- training noise: `StepNoise` draws micro-batch i's noise from a generator seeded
  by (seed, i) alone, so a process whose ``sample_t`` draws differently (discrete
  integers vs continuous times) does not shift the noise of the steps after;
- evaluation: sampling seeds are the run's seed (``Evaluator``), batch i from seed + i.
"""

from __future__ import annotations

import torch
from torch import Tensor

#: keeps the noise streams apart from the data-order streams (``Batches``: seed * 1_000_003 + epoch).
NOISE_STREAM = 2_000_029


class StepNoise:
    """``noise(n, shape, index)``: unit Gaussian (n, *shape) on `device` from a generator
    seeded ``seed * NOISE_STREAM + index + 1``; a pure function of (seed, index), so a
    resumed run draws what an uninterrupted one would."""

    def __init__(self, seed: int, device: torch.device) -> None:
        self.seed, self.device = int(seed), device
        self.gen = torch.Generator(device=device)

    def __call__(self, n: int, shape: tuple[int, ...] | torch.Size, index: int) -> Tensor:
        self.gen.manual_seed(self.seed * NOISE_STREAM + int(index) + 1)
        return torch.randn((n, *shape), generator=self.gen, device=self.device)
