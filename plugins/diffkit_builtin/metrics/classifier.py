"""The offline feature space: a small classifier trained on the dataset's labels.

Trained once per dataset and image size, then cached in
``$DIFFKIT_CACHE_DIR/features/<dataset>.pt`` (default ``~/.cache/diffkit``).
Features are the 64 globally pooled activations before the class layer.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import torch
from torch import Tensor, nn

from diffkit import checkpoint as ckpt
from diffkit.errors import CheckpointError, ConfigError, DataError
from diffkit.interfaces import MetricContext
from diffkit.runner.data import to_model_range

CACHE_ENV = "DIFFKIT_CACHE_DIR"
KIND = "diffkit feature classifier 1"
STEPS, BATCH, LR, HOLDOUT, WIDTH = 500, 64, 3e-3, 0.1, 64


class FeatureClassifier(nn.Module):
    """conv 3x3 (C->16) -> conv stride 2 (->32) -> conv stride 2 (->64) -> mean pool,
    SiLU between. x: (B, C, H, W) in [-1, 1] -> features (B, 64); ``logits`` adds a linear layer."""

    def __init__(self, in_channels: int, num_classes: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(in_channels, 16, 3, padding=1),
            nn.SiLU(),
            nn.Conv2d(16, 32, 3, stride=2, padding=1),
            nn.SiLU(),
            nn.Conv2d(32, WIDTH, 3, stride=2, padding=1),
            nn.SiLU(),
        )
        self.head = nn.Linear(WIDTH, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        return self.body(x).mean(dim=(2, 3))

    def logits(self, x: Tensor) -> Tensor:
        return self.head(self(x))


def cache_path(dataset: str) -> Path:
    root = Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "diffkit")
    return root / "features" / f"{dataset}.pt"


def check_classifier_files(weights: str | None) -> None:
    """Raise unless `weights` (when given) is a file, or the cache directory can be made."""
    if weights:
        if not Path(weights).is_file():
            raise CheckpointError(f"features=classifier weights={weights}: file not found")
        return
    directory = cache_path("x").parent
    for parent in [directory, *directory.parents]:
        if parent.exists():
            if not parent.is_dir():
                raise ConfigError(
                    f"the feature cache {directory} cannot be made: {parent} is a file (set {CACHE_ENV} to a directory)"
                )
            return


def classifier_extractor(weights: str | None, context: MetricContext) -> FeatureClassifier:
    """The cached classifier of `context.dataset` (or `weights`, a file written by
    this module), trained on its training split when there is none."""
    path = Path(weights) if weights else cache_path(context.dataset)
    state = _load(path)
    if state is None and weights:
        raise CheckpointError(f"features=classifier weights={weights}: not a feature classifier written by diffkit")
    if state is None:
        state = train_classifier(context)
        ckpt.save_atomic(state, path)
    model = FeatureClassifier(state["in_channels"], state["num_classes"])
    model.load_state_dict(state["model"])
    return model.to(context.device).eval()


def _load(path: Path) -> dict | None:
    """The classifier state in `path`, or None (missing, truncated or foreign files)."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError, EOFError, ValueError, pickle.UnpicklingError):
        return None
    return state if isinstance(state, dict) and state.get("kind") == KIND else None


def train_classifier(context: MetricContext, steps: int = STEPS, seed: int = 0) -> dict:
    """Fit the classifier on 90% of the training split with Adam and cross-entropy;
    return a checkpoint dict with the held-out 10%'s accuracy (``accuracy``)."""
    data = context.train()
    if data.labels is None or data.num_classes < 2:
        raise DataError(
            f"features=classifier needs class labels, and dataset {context.dataset} has none; "
            "use features=inception with weights=PATH"
        )
    device = context.device
    g = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(data.labels), generator=g)
    n_val = max(1, int(HOLDOUT * len(order)))
    val, fit = order[:n_val], order[n_val:]
    x = to_model_range(data.images).to(device)
    y = data.labels.to(device)
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(seed)
        model = FeatureClassifier(x.shape[1], data.num_classes).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    for _ in range(steps):
        idx = fit[torch.randint(len(fit), (min(BATCH, len(fit)),), generator=g)].to(device)
        loss = nn.functional.cross_entropy(model.logits(x[idx]), y[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    model.eval()
    with torch.inference_mode():
        vi = val.to(device)
        pred = torch.cat([model.logits(chunk).argmax(1) for chunk in x[vi].split(1024)])
        accuracy = float((pred == y[vi]).float().mean())
    return {
        "kind": KIND,
        "dataset": context.dataset,
        "in_channels": int(x.shape[1]),
        "num_classes": int(data.num_classes),
        "accuracy": accuracy,
        "model": {k: v.cpu() for k, v in model.state_dict().items()},
    }
