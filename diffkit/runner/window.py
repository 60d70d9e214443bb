"""The log window: the losses summed since the last log, kept on the device.

The loss is read back only at log intervals and before checkpoints (sync points), never
per step; a checkpoint keeps an open window so that a resumed run logs the same means."""

from __future__ import annotations

import time
from typing import Any

import torch


class LossWindow:
    """loss_sum: sum of the finite step losses since the last log; steps: steps in the
    window; skipped: steps skipped by ``on_nonfinite=skip`` (whole run); first_bad: the
    first step whose loss or gradient was not finite (-1: none), a device tensor."""

    def __init__(self, device: torch.device) -> None:
        self.loss_sum = torch.zeros((), device=device)
        self.first_bad = torch.full((), -1, device=device, dtype=torch.long)
        self.steps = 0
        self.skipped = 0
        self.started = time.perf_counter()

    def add(self, step_loss: torch.Tensor, finite: torch.Tensor, step: int, applied: bool) -> None:
        """Count step `step` (1-based) with loss `step_loss`; `applied`: its update was kept."""
        if applied:
            self.first_bad = torch.where((self.first_bad < 0) & ~finite, step, self.first_bad)
        else:
            self.skipped += 1
        self.loss_sum += torch.where(finite, step_loss, 0.0)
        self.steps += 1

    def reset(self) -> None:
        self.loss_sum.zero_()
        self.steps = 0
        self.started = time.perf_counter()

    def state_dict(self, loss_sum: torch.Tensor) -> dict[str, Any]:
        """What a checkpoint keeps; `loss_sum`: the window's sum agreed between ranks."""
        return {"loss_sum": loss_sum, "steps": self.steps, "skipped": self.skipped}

    def load(self, state: dict[str, Any] | None) -> None:
        if state:
            self.loss_sum += state["loss_sum"].to(self.loss_sum.device)
            self.steps, self.skipped = int(state["steps"]), int(state["skipped"])
