"""scikit-learn's bundled 8x8 handwritten digits: real data with no download."""

from __future__ import annotations

import torch

from diffkit.errors import ConfigError
from diffkit.interfaces import Dataset, ImageData

#: the last images of the 1797 form the test split.
TEST_SIZE = 297


class DigitsDataset(Dataset):
    """1797 grey 8x8 digits (values 0..16, scaled to 0..255), 10 classes.
    Split "train" is the first 1500 images, "test" the last 297."""

    def load(self, split: str = "train") -> ImageData:
        from sklearn.datasets import load_digits

        if split not in ("train", "test"):
            raise ConfigError(f"digits has splits train and test, not {split!r}")
        bunch = load_digits()
        images = torch.from_numpy(bunch.images).float().mul(255.0 / 16.0).round().to(torch.uint8)
        labels = torch.from_numpy(bunch.target).long()
        part = slice(None, -TEST_SIZE) if split == "train" else slice(-TEST_SIZE, None)
        return ImageData(images[part, None].contiguous(), labels[part].contiguous(), 10)
