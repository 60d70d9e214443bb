"""MNIST-format (IDX) datasets read from local files: mnist and fashion_mnist."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import torch

from diffkit.errors import ConfigError, DataError
from diffkit.interfaces import Dataset, ImageData

FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def read_idx(path: Path) -> np.ndarray:
    """Parse an IDX file (raw or .gz): magic 0x0000 0x08 ndim, dims (big-endian), uint8 data."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        data = f.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise DataError(f"{path} is not an unsigned-byte IDX file")
    ndim = data[3]
    dims = np.frombuffer(data, dtype=">u4", count=ndim, offset=4).astype(int)
    body = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if body.size != int(np.prod(dims)):
        raise DataError(f"{path} is truncated: expected {int(np.prod(dims))} values, found {body.size}")
    return body.reshape(tuple(dims))


class IdxDataset(Dataset):
    """28x28 grey images and 10-class labels from IDX files in ``root`` (``.gz`` or raw).

    With ``download: true`` and no local files, torchvision fetches them into ``root``.
    """

    default_root = ""
    apt_package = ""
    torchvision_name = ""

    def load(self, split: str = "train") -> ImageData:
        if split not in FILES:
            raise ConfigError(f"{self.torchvision_name} has splits train and test, not {split!r}")
        root = Path(self.root or self.default_root).expanduser()
        paths = [self._find(root, stem) for stem in FILES[split]]
        if None in paths and self.download:
            self._download(root)
            paths = [self._find(root / self.torchvision_name / "raw", stem) for stem in FILES[split]]
        if None in paths:
            missing = FILES[split][paths.index(None)]
            raise DataError(
                f"{missing}[.gz] not found in {root}; install it with `apt-get install {self.apt_package}` "
                f"(files in {self.default_root}), point data.root at a folder holding the IDX files, "
                "or set data.download=true to fetch it with torchvision"
            )
        images = torch.from_numpy(read_idx(paths[0]).copy())[:, None]
        labels = torch.from_numpy(read_idx(paths[1]).astype(np.int64))
        if images.shape[0] != labels.shape[0]:
            raise DataError(f"{paths[0]} has {images.shape[0]} images but {paths[1]} has {labels.shape[0]} labels")
        return ImageData(images, labels, 10)

    @staticmethod
    def _find(root: Path, stem: str) -> Path | None:
        for candidate in (root / f"{stem}.gz", root / stem):
            if candidate.is_file():
                return candidate
        return None

    def _download(self, root: Path) -> None:
        import torchvision

        try:
            getattr(torchvision.datasets, self.torchvision_name)(str(root), download=True)
        except Exception as e:  # noqa: BLE001 - network errors come in many types
            raise DataError(f"could not download {self.torchvision_name} into {root}: {e}") from e


class FashionMNIST(IdxDataset):
    __doc__ = IdxDataset.__doc__
    default_root = "/usr/share/datasets/fashion-mnist"
    apt_package = "dataset-fashion-mnist"
    torchvision_name = "FashionMNIST"


class MNIST(IdxDataset):
    __doc__ = IdxDataset.__doc__
    default_root = "/usr/share/datasets/mnist"
    apt_package = "mnist"
    torchvision_name = "MNIST"
