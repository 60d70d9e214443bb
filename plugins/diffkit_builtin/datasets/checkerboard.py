"""Points uniform on the dark squares of a checkerboard."""

from __future__ import annotations

import torch
from torch import Tensor

from diffkit.errors import ConfigError

from .points import PointDataset


class Checkerboard(PointDataset):
    """x_0 uniform on the squares (i, j) with i + j even of a `squares` x `squares` board
    covering [-1, 1]^2 (density 2 / 4 = 1/2 there, 0 elsewhere, for an even board).

    Args:
        squares: squares per side (4).
        num_train, num_test, seed: see `PointDataset`.
    """

    def __init__(
        self,
        squares: int = 4,
        num_train: int = 10000,
        num_test: int = 2000,
        seed: int = 0,
        root: str | None = None,
        download: bool = False,
    ) -> None:
        super().__init__(num_train, num_test, seed, root, download)
        if squares < 2:
            raise ConfigError(f"data.squares={squares} must be >= 2")
        self.squares = int(squares)

    def cells(self) -> Tensor:
        """The (i, j) of the dark squares: (M, 2) long."""
        ij = torch.cartesian_prod(torch.arange(self.squares), torch.arange(self.squares))
        return ij[(ij.sum(1) % 2) == 0]

    def draw(self, n: int, generator: torch.Generator) -> Tensor:
        """A dark square uniformly, then a point uniform in it."""
        cells = self.cells()
        pick = cells[torch.randint(0, cells.shape[0], (n,), generator=generator)].double()
        u = torch.rand((n, 2), generator=generator, dtype=torch.float64)
        return (pick + u) * (2.0 / self.squares) - 1.0
