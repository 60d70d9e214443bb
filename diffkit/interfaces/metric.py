"""Sample-quality measures."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from diffkit.interfaces.dataset import ImageData


@dataclass
class MetricContext:
    """What the runner tells a metric about the data it measures; a metric whose
    constructor accepts ``context`` receives it.

    dataset: a name for caches, e.g. "digits-8" (dataset and image size);
    train: loads the training split at the run's image size (e.g. to fit a feature
    network on its labels); device: where to compute; shared: a dict that the metrics
    of one evaluation share (e.g. a feature network and the features it computed).
    """

    dataset: str
    train: Callable[[], ImageData]
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    shared: dict[str, Any] = field(default_factory=dict)


class Metric(ABC):
    """Compares generated images with real ones.

    ``compute`` takes real and fake images (N, C, H, W) float in [-1, 1] and returns
    named values, e.g. {"fid": 12.3}, reported as ``eval/fid``. A subclass
    implements ``compute``; its constructor parameters (each with a default)
    are the keys of an ``eval.metrics`` entry, and a parameter ``context``
    receives a `MetricContext` from the runner.
    """

    #: constructor arguments the runner passes when the constructor accepts them.
    optional_injected = ("context",)
    higher_is_better: bool = False
    description: str = ""

    def min_samples(self) -> int:
        """The fewest images (real and generated) ``compute`` can score."""
        return 1

    def prepare(self) -> None:
        """Check the resources the metric will need (weights files, cache directories)
        and raise a `diffkit.errors.DiffkitError` naming the problem. The runner
        calls it when the run starts, so that a bad path fails before training, not after."""

    @abstractmethod
    def compute(self, real: Tensor, fake: Tensor) -> dict[str, float]:
        """real: (N, C, H, W), fake: (M, C, H, W) in [-1, 1] -> {name: value}."""
