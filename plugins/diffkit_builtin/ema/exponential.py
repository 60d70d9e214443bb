"""The exponential moving average of the weights (``ema.name=exponential``, the default)."""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn

from diffkit.interfaces.ema import EMA


class ExponentialEMA(EMA):
    """theta_ema <- d theta_ema + (1 - d) theta after every optimizer step.

    With warm-up, d_t = min(decay, (1 + t) / (10 + t)) for update number t (from 0),
    so early averages are not dominated by the random initialisation. Buffers
    (e.g. BatchNorm statistics) are copied, not averaged. ``decay=0`` keeps no average.
    ``half_life_fraction`` h sizes the decay to the run (``train.budget`` or ``train.steps``):
    d = 0.5 ** (1 / (h * steps)), a half-life of h times the planned steps (``runner/budget.py``).
    Checkpoint state: ``{"model": weights, "num_updates": n}``.
    """

    def __init__(
        self, model: nn.Module, decay: float = 0.0, warmup: bool = True, half_life_fraction: float | None = None
    ) -> None:
        if not 0 <= decay < 1:
            raise ValueError(f"decay={decay!r} must be a number in [0, 1)")
        if half_life_fraction is not None and not 0 < half_life_fraction <= 1:
            raise ValueError(f"half_life_fraction={half_life_fraction!r} must be null or a number in (0, 1]")
        self.decay, self.warmup, self.half_life_fraction = decay, warmup, half_life_fraction
        self.enabled = decay > 0 or half_life_fraction is not None
        self.num_updates = 0
        if self.enabled:
            self.reset(model)

    def reset(self, model: nn.Module) -> None:
        self.model = copy.deepcopy(model).eval().requires_grad_(False)

    def current_decay(self) -> float:
        if not self.warmup:
            return self.decay
        t = self.num_updates
        return min(self.decay, (1 + t) / (10 + t))

    @torch.no_grad()
    def update(self, model: nn.Module, step: int = 0) -> None:
        d = self.current_decay()
        ema_params = [p for p in self.model.parameters()]
        params = [p.detach() for p in model.parameters()]
        torch._foreach_lerp_(ema_params, params, 1.0 - d)
        for b_ema, b in zip(self.model.buffers(), model.buffers()):
            b_ema.copy_(b)
        self.num_updates += 1

    def state_dict(self) -> dict[str, Any]:
        return {"model": self.model.state_dict(), "num_updates": self.num_updates}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.num_updates = int(state["num_updates"])
