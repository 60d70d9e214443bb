"""Two interleaving half circles (scikit-learn's ``make_moons``), centred."""

from __future__ import annotations

import torch
from torch import Tensor

from diffkit.errors import ConfigError

from .points import PointDataset

#: the centre of make_moons' points, subtracted so the data has mean ~0.
CENTRE = (0.5, 0.25)


class Moons(PointDataset):
    """x_0 = make_moons(noise) - (0.5, 0.25): in about [-1.5, 1.5] x [-0.8, 0.8].

    Args:
        noise: the standard deviation of the Gaussian noise added to the moons (0.05).
        num_train, num_test, seed: see `PointDataset`.
    """

    def __init__(
        self,
        noise: float = 0.05,
        num_train: int = 10000,
        num_test: int = 2000,
        seed: int = 0,
        root: str | None = None,
        download: bool = False,
    ) -> None:
        super().__init__(num_train, num_test, seed, root, download)
        if not noise >= 0:
            raise ConfigError(f"data.noise={noise!r} must be >= 0")
        self.noise = float(noise)

    def draw(self, n: int, generator: torch.Generator) -> Tensor:
        from sklearn.datasets import make_moons

        state = int(torch.randint(0, 2**31 - 1, (1,), generator=generator))
        points, _ = make_moons(n, noise=self.noise, random_state=state)
        return torch.from_numpy(points) - torch.tensor(CENTRE, dtype=torch.float64)
