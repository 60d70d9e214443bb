"""CIFAR-10 through torchvision (download only where asked and possible)."""

from __future__ import annotations

from pathlib import Path

import torch

from diffkit.errors import DataError
from diffkit.interfaces import Dataset, ImageData


class CIFAR10(Dataset):
    """50000 train / 10000 test RGB 32x32 images, 10 classes, from torchvision's
    ``cifar-10-batches-py`` folder under ``root`` (default ``~/.cache/diffkit/cifar10``)."""

    def load(self, split: str = "train") -> ImageData:
        import torchvision

        root = Path(self.root or "~/.cache/diffkit/cifar10").expanduser()
        try:
            ds = torchvision.datasets.CIFAR10(str(root), train=split == "train", download=self.download)
        except RuntimeError as e:
            raise DataError(
                f"CIFAR-10 not found in {root} ({e}); set data.download=true on a machine with a "
                "network, or point data.root at a folder holding cifar-10-batches-py"
            ) from None
        images = torch.from_numpy(ds.data).permute(0, 3, 1, 2).contiguous()
        return ImageData(images, torch.tensor(ds.targets, dtype=torch.long), 10)
