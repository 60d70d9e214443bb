"""Feature spaces that FID and precision/recall compare images in.

An extractor maps images (N, C, H, W) in [-1, 1] to features (N, D). What scores in
each space are comparable with (docs/concepts/metrics.md):

- ``classifier``: a small network trained on the dataset's labels and cached per dataset
  (works offline); diffkit-only numbers, comparable between runs on the same dataset.
- ``inception``: torchvision's ImageNet InceptionV3 pool features (D = 2048); not the
  network papers use, so not comparable with published FIDs.
- ``tf_inception``: the TF-FID InceptionV3 of pytorch-fid and torch-fidelity (D = 2048),
  the one for numbers comparable with papers.

Both Inception spaces take weights from a local file or, with a network, ``weights=download``;
a missing file is reported when the metric is built, before training.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from diffkit.errors import ConfigError
from diffkit.interfaces import Metric, MetricContext

from .classifier import check_classifier_files, classifier_extractor
from .inception import check_inception_weights, inception_extractor
from .tf_inception import check_weights, tf_inception_extractor

Extractor = Callable[[Tensor], Tensor]

#: feature-space name -> factory(weights, context) returning an extractor.
EXTRACTORS: dict[str, Callable[[str | None, MetricContext], Extractor]] = {
    "classifier": classifier_extractor,
    "inception": inception_extractor,
    "tf_inception": tf_inception_extractor,
}


#: feature-space name -> check(weights) of the files it will read or write.
PREPARE: dict[str, Callable[[str | None], None]] = {
    "classifier": check_classifier_files,
    "inception": check_inception_weights,
    "tf_inception": check_weights,
}


class FeatureMetric(Metric):
    """A metric computed on features of a named feature space.

    Args:
        features: ``classifier`` (trained offline on the dataset's labels), ``inception``
            (torchvision's) or ``tf_inception`` (TF-FID, comparable with papers).
        weights: for the Inception spaces, a local state-dict file or ``download``.
        batch_size: images embedded at once.
    """

    def __init__(
        self,
        *,
        features: str = "classifier",
        weights: str | None = None,
        batch_size: int = 256,
        context: MetricContext | None = None,
    ) -> None:
        if features not in EXTRACTORS:
            raise ConfigError(f"features={features!r} is not a feature space; use one of {', '.join(EXTRACTORS)}")
        if batch_size < 1:
            raise ConfigError(f"batch_size={batch_size} must be >= 1")
        self.features, self.weights, self.batch_size = features, weights, batch_size
        self.context = context

    def provenance(self) -> dict[str, Any]:
        """The base record plus ``feature_space`` (its name, and the weights it reads)."""
        space = self.features if self.weights in (None, "download") else f"{self.features}:{Path(self.weights).name}"
        return {**super().provenance(), "feature_space": space}

    def prepare(self) -> None:
        """The feature space's files: the Inception weights, the classifier's weights or cache."""
        PREPARE[self.features](self.weights)

    def embed(self, images: Tensor) -> Tensor:
        """images: (N, C, H, W) in [-1, 1] -> features (N, D) float64 on the CPU.

        Metrics of one evaluation share the extractor and the features of each
        image tensor through ``context.shared``."""
        if self.context is None:
            raise ConfigError(
                f"metric {type(self).__name__} needs the runner's context (build it through the registry)"
            )
        shared = self.context.shared
        key = ("features", self.features, self.weights)
        if key not in shared:
            shared[key] = (EXTRACTORS[self.features](self.weights, self.context), {})
        extract, memo = shared[key]
        if id(images) not in memo:
            device = self.context.device
            with torch.inference_mode():
                out = [extract(chunk.to(device)).double().cpu() for chunk in images.split(self.batch_size)]
            memo[id(images)] = (images, torch.cat(out))  # the tensor is kept so its id stays unique
        return memo[id(images)][1]
