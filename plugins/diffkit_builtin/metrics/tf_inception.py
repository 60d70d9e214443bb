"""The TF-FID InceptionV3: the network behind published FID numbers (Heusel et al.'s
TensorFlow graph, ported as ``pt_inception-2015-12-05-6726825d.pth`` by pytorch-fid and
also used by torch-fidelity). Pool3 features, D = 2048.

It differs from torchvision's ImageNet InceptionV3 in weights and in some pooling
layers, so FIDs in the two spaces are not comparable. The blocks come from the
``pytorch-fid`` package (``pip install "diffkit[fid]"``); the weights from a local file,
or ``weights=download`` where a network exists.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from diffkit.errors import CheckpointError, ConfigError
from diffkit.interfaces import MetricContext

from .inception import InceptionFeatures
from .weights import build_network, load_state_dict

WEIGHTS_FILE = "pt_inception-2015-12-05-6726825d.pth"


def _fid_blocks() -> object:
    try:
        from pytorch_fid import inception
    except ImportError:
        raise ConfigError('features=tf_inception needs the pytorch-fid package: pip install "diffkit[fid]"') from None
    return inception


def tf_inception_network() -> nn.Module:
    """torchvision's InceptionV3 with the TF graph's blocks and 1008 classes, untrained."""
    from torchvision.models import inception_v3

    blocks = _fid_blocks()
    net = inception_v3(weights=None, num_classes=1008, aux_logits=False, init_weights=False, transform_input=False)
    net.Mixed_5b = blocks.FIDInceptionA(192, pool_features=32)
    net.Mixed_5c = blocks.FIDInceptionA(256, pool_features=64)
    net.Mixed_5d = blocks.FIDInceptionA(288, pool_features=64)
    for name, c7 in (("Mixed_6b", 128), ("Mixed_6c", 160), ("Mixed_6d", 160), ("Mixed_6e", 192)):
        setattr(net, name, blocks.FIDInceptionC(768, channels_7x7=c7))
    net.Mixed_7b = blocks.FIDInceptionE_1(1280)
    net.Mixed_7c = blocks.FIDInceptionE_2(2048)
    return net


class TFInceptionFeatures(InceptionFeatures):
    """x: (B, C, H, W) in [-1, 1] -> pool3 features (B, 2048). Grey images are repeated
    to RGB and resized to 299x299 (bilinear), as pytorch-fid does; only the network differs
    from `InceptionFeatures`."""

    network = staticmethod(tf_inception_network)


def check_weights(weights: str | None) -> None:
    """Raise ConfigError, in one line, unless `weights` is ``download`` or an existing file."""
    _fid_blocks()
    if weights is None:
        raise ConfigError(f"features=tf_inception needs weights: a local {WEIGHTS_FILE} file, or weights=download")
    if weights != "download" and not Path(weights).is_file():
        raise ConfigError(f"features=tf_inception weights={weights}: file not found (the TF-FID {WEIGHTS_FILE})")


def tf_inception_extractor(weights: str | None, context: MetricContext) -> TFInceptionFeatures:
    """`weights`: a local copy of ``pt_inception-2015-12-05-6726825d.pth``, or ``download``."""
    check_weights(weights)
    if weights == "download":
        from pytorch_fid.inception import FID_WEIGHTS_URL

        try:
            state = torch.hub.load_state_dict_from_url(FID_WEIGHTS_URL, progress=False, map_location="cpu")
        except OSError as e:
            raise CheckpointError(
                f"features=tf_inception weights=download failed ({type(e).__name__}); "
                f"download {WEIGHTS_FILE} elsewhere and pass weights=PATH"
            ) from None
    else:
        state = load_state_dict(str(weights), "TF-FID InceptionV3")
    return build_network(TFInceptionFeatures, state, weights, "the TF-FID InceptionV3", context.device)
