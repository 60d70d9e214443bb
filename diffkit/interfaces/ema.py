"""Averages of a model's weights kept during training (``ema: {name: ...}``)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

from torch import nn


class EMA(ABC):
    """Moving averages of the weights, updated after every optimizer step.

    The constructor receives the live ``model`` (injected by the runner) and the
    ``ema`` config node's other keys as parameters. The runner calls, on the main
    process only: ``update(model, step)`` after each optimizer step; ``snapshot(run_dir,
    step)`` just before the checkpoint of `step` is written; ``state_dict`` into the
    checkpoint (key ``ema``) and ``load_state_dict`` on ``--resume``.

    ``model``: the averaged network the run samples with (``ema.use_for_sampling``);
    ``state_dict()["model"]`` must be its weights, which ``diffkit sample`` loads.
    ``enabled``: False when the parameters switch averaging off (the runner then keeps none).
    ``last_step``: the step the run is planned to end at, set by the runner once it is known
    (at once for ``train.steps``, after the speed measurement for a time budget), so that
    e.g. a snapshot can be taken at the last step whatever the snapshot interval.
    """

    #: constructor arguments the runner passes.
    injected = ("model",)
    enabled: bool = True
    last_step: int | None = None
    model: nn.Module

    @abstractmethod
    def update(self, model: nn.Module, step: int) -> None:
        """Fold the weights of `model` after optimizer step `step` (1 for the first) into the averages."""

    @abstractmethod
    def reset(self, model: nn.Module) -> None:
        """Start every average from the weights of `model` (an EMA switched on at a resume)."""

    @abstractmethod
    def state_dict(self) -> dict[str, Any]:
        """Everything a bit-exact resume needs; key ``model``: the sampling weights."""

    @abstractmethod
    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Put back what `state_dict` returned."""

    def snapshot(self, run_dir: Path, step: int) -> None:
        """Write what must be on disk before the checkpoint of `step` (e.g. post-hoc EMA
        snapshots). Nothing by default."""
