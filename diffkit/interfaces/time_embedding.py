"""How a denoiser sees the timestep."""

from __future__ import annotations

from abc import ABC, abstractmethod

from torch import Tensor, nn


class TimeEmbedding(nn.Module, ABC):
    """Maps times t: (B,) to features (B, dim). t is what the noise process hands the network
    (``NoiseProcess.model_time``): the integer timestep on the discrete chain, a real number
    on the scale [0, num_timesteps] on a continuous process.

    A subclass implements ``forward``; its constructor accepts ``num_timesteps``
    (injected) and passes it with ``dim`` to ``super().__init__``; its other
    parameters (each with a default) are the config keys of ``time_embedding``.

    Args:
        dim: size of the embedding; the denoiser reads it as ``self.dim``.
        num_timesteps: T of the scheduler, injected by the runner (tables need it).
    """

    dim: int
    #: constructor arguments the runner provides; never set in a config.
    injected = ("num_timesteps",)
    #: True for embeddings that need integer t (a table row per timestep): the runner
    #: refuses them on a continuous process.
    discrete_only: bool = False

    def __init__(self, dim: int, num_timesteps: int = 1000) -> None:
        super().__init__()
        self.dim = int(dim)
        self.num_timesteps = int(num_timesteps)

    @abstractmethod
    def forward(self, t: Tensor) -> Tensor:
        """t: (B,) long or float -> (B, dim) float."""
