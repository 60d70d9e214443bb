"""Sample-quality measures."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from diffkit.interfaces.dataset import Dataset, ImageData, PointData
from diffkit.interfaces.process import NoiseProcess
from diffkit.interfaces.sampler import ModelFn


@dataclass
class MetricContext:
    """What the runner tells a metric about the data it measures; a metric whose
    constructor accepts ``context`` receives it.

    dataset: a name for caches, e.g. "digits-8" (dataset and image size);
    train: loads the training split at the run's image size (e.g. to fit a feature
    network on its labels); device: where to compute; shared: a dict that the metrics
    of one evaluation share (e.g. a feature network and the features it computed).
    source: the built dataset (a `KnownDensity` where the
    data's density is known). model, process: the model being evaluated, as
    ``model(x_t, t)`` -> the process's prediction type, and its noise process; set by
    the runner for each evaluation of a trained model, None when only samples are scored.
    """

    dataset: str
    train: Callable[[], ImageData | PointData]
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    shared: dict[str, Any] = field(default_factory=dict)
    source: Dataset | None = None
    model: ModelFn | None = None
    process: NoiseProcess | None = None


class Metric(ABC):
    """Compares generated images with real ones.

    ``compute`` takes real and fake images (N, C, H, W) float in [-1, 1] (or points
    (N, D), for point data) and returns named values, e.g. {"fid": 12.3}, reported as ``eval/fid``. A subclass
    implements ``compute``; its constructor parameters (each with a default)
    are the keys of an ``eval.metrics`` entry, and a parameter ``context``
    receives a `MetricContext` from the runner.
    """

    #: constructor arguments the runner passes when the constructor accepts them.
    optional_injected = ("context",)

    higher_is_better: bool = False
    """Direction of every value ``compute`` returns: True when larger is better
    (precision, recall), False when smaller is (FID). ``diffkit compare`` ranks by it."""

    description: str = ""
    """One line saying what the values measure (TensorBoard HParams, ``diffkit compare``)."""

    def provenance(self) -> dict[str, Any]:
        """What makes this metric's numbers comparable with another run's, for
        ``RUN/provenance.json``: its direction, description and build record; a metric
        computed in a feature space adds ``feature_space`` (the runner adds the sample
        count, the sampler, its NFE and the hash of the reference images)."""
        record = getattr(self, "build_config", {}) or {}
        return {
            "class": f"{type(self).__module__}.{type(self).__qualname__}",
            "config": dict(record),
            "higher_is_better": bool(self.higher_is_better),
            "description": str(self.description),
        }

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
