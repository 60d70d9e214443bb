"""InceptionV3 pool features (torchvision's architecture), D = 2048."""

from __future__ import annotations

import os
from pathlib import Path

import torch.nn.functional as F
from torch import Tensor, nn

from diffkit.errors import CheckpointError, ConfigError
from diffkit.interfaces import MetricContext

from .weights import build_network, load_state_dict


class InceptionFeatures(nn.Module):
    """x: (B, C, H, W) in [-1, 1] -> (B, 2048): grey images are repeated to RGB and
    resized to 299x299 (bilinear); the network sees [-1, 1] as its weights expect."""

    def __init__(self, state_dict: dict[str, Tensor]) -> None:
        super().__init__()
        self.net = self.network()
        self.net.load_state_dict(state_dict)
        self.net.fc = nn.Identity()
        self.net.eval()

    @staticmethod
    def network() -> nn.Module:
        """The untrained InceptionV3 the weights are loaded into (torchvision's)."""
        from torchvision.models import inception_v3

        return inception_v3(weights=None, aux_logits=True, init_weights=False, transform_input=False)

    def forward(self, x: Tensor) -> Tensor:
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        x = F.interpolate(x, size=(299, 299), mode="bilinear", align_corners=False)
        return self.net(x)


def check_inception_weights(weights: str | None) -> None:
    """Raise unless `weights` is ``download`` or names a readable file."""
    if weights is None:
        raise ConfigError(
            "features=inception needs weights: a local inception_v3 state-dict file, or weights=download; "
            "offline, use features=classifier"
        )
    if weights != "download" and not Path(weights).is_file():
        raise CheckpointError(f"features=inception weights={weights}: file not found")
    if weights != "download" and not os.access(weights, os.R_OK):
        raise CheckpointError(f"features=inception weights={weights}: not readable (permissions)")


def inception_extractor(weights: str | None, context: MetricContext) -> InceptionFeatures:
    """`weights`: a file holding torchvision's ``inception_v3`` state dict, or
    ``download`` for torchvision's ImageNet weights (needs a network)."""
    check_inception_weights(weights)
    if weights == "download":
        from torchvision.models import Inception_V3_Weights

        state = Inception_V3_Weights.IMAGENET1K_V1.get_state_dict(progress=False)
    else:
        state = load_state_dict(str(weights), "inception_v3")
    return build_network(InceptionFeatures, state, weights, "torchvision's inception_v3", context.device)
