"""The base of the built-in 2-D datasets: points drawn from a seed, no files."""

from __future__ import annotations

from abc import abstractmethod

import torch
from torch import Tensor

from diffkit.errors import ConfigError
from diffkit.interfaces import Dataset, PointData

#: each split draws from its own stream: generator seed = 2 seed + offset.
SPLIT_OFFSET = {"train": 0, "test": 1}


class PointDataset(Dataset):
    """`num_train` / `num_test` points (N, D) float32 drawn by `draw` from a generator
    seeded by `seed` and the split, so every run (whatever its own ``seed``) sees the same data.

    Args:
        num_train, num_test: the sizes of the splits.
        seed: the data's seed (not the run's).
        root, download: unused (no files).
    """

    def __init__(
        self,
        num_train: int = 10000,
        num_test: int = 2000,
        seed: int = 0,
        root: str | None = None,
        download: bool = False,
    ) -> None:
        super().__init__(root, download)
        for key, value in (("num_train", num_train), ("num_test", num_test)):
            if value < 1:
                raise ConfigError(f"data.{key}={value} must be >= 1")
        self.sizes = {"train": int(num_train), "test": int(num_test)}
        self.seed = int(seed)

    @abstractmethod
    def draw(self, n: int, generator: torch.Generator) -> Tensor:
        """n points (n, D) float32."""

    def load(self, split: str = "train") -> PointData:
        if split not in self.sizes:
            name = getattr(self, "build_config", {}).get("name", type(self).__name__)
            raise ConfigError(f"data.name={name} has splits train and test, not {split!r}")
        g = torch.Generator().manual_seed(2 * self.seed + SPLIT_OFFSET[split])
        return PointData(self.draw(self.sizes[split], g).to(torch.float32).contiguous())
