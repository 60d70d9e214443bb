"""The peers' networks as diffkit denoisers, so that ``benchmarks.budget`` trains them through
the real runner for the same ``train.budget`` as diffkit's arms: diffusers ``UNet2DModel``
(``peer_diffusers``) and denoising-diffusion-pytorch ``Unet`` (``peer_ddpm_pytorch``). Each
embeds the timestep itself (diffkit's ``time_embedding`` is unused), ignores labels, and has
its library's default block layout at a chosen base width. Load with ``-p
benchmarks.peer_denoisers`` (or ``run.plugins``); a peer that is not installed is not registered.

x: (B, C, H, W), t: (B,) -> (B, C, H, W).
"""

from __future__ import annotations

import importlib.util

from torch import Tensor

from diffkit import hookimpl
from diffkit.interfaces import Denoiser, TimeEmbedding
from diffkit.registry import Registry

#: registered name -> the module it needs.
PEERS = {"peer_diffusers": "diffusers", "peer_ddpm_pytorch": "denoising_diffusion_pytorch"}


class DiffusersUNet(Denoiser):
    """``UNet2DModel`` as in diffusers' ``train_unconditional.py`` at CPU size: one ResNet layer
    per block, widths (w, 2w, 4w), attention in the lowest level's down and up blocks."""

    def __init__(
        self,
        in_channels: int,
        time_embedding: TimeEmbedding,
        num_classes: int = 0,
        width: int = 32,
        sample_size: int = 28,
    ) -> None:
        super().__init__(in_channels, time_embedding, num_classes)
        from diffusers import UNet2DModel

        self.net = UNet2DModel(
            sample_size=sample_size,
            in_channels=in_channels,
            out_channels=in_channels,
            layers_per_block=1,
            block_out_channels=(width, 2 * width, 4 * width),
            norm_num_groups=8,
            down_block_types=("DownBlock2D", "DownBlock2D", "AttnDownBlock2D"),
            up_block_types=("AttnUpBlock2D", "UpBlock2D", "UpBlock2D"),
        )
        self.num_downsamplings = 2

    def forward(self, x: Tensor, t: Tensor, y: Tensor | None = None) -> Tensor:
        return self.net(x, t).sample


class LucidrainsUNet(Denoiser):
    """denoising-diffusion-pytorch's ``Unet(dim=w, dim_mults=(1, 2, 4))``: two ResNet blocks
    per level and linear attention at every level, full attention in the middle."""

    def __init__(self, in_channels: int, time_embedding: TimeEmbedding, num_classes: int = 0, width: int = 32) -> None:
        super().__init__(in_channels, time_embedding, num_classes)
        from denoising_diffusion_pytorch import Unet

        self.net = Unet(dim=width, dim_mults=(1, 2, 4), channels=in_channels)
        self.num_downsamplings = 2

    def forward(self, x: Tensor, t: Tensor, y: Tensor | None = None) -> Tensor:
        return self.net(x, t)


def installed(name: str) -> bool:
    return importlib.util.find_spec(PEERS[name]) is not None


@hookimpl
def diffkit_register_components(registry: Registry) -> None:
    for name, cls in (("peer_diffusers", DiffusersUNet), ("peer_ddpm_pytorch", LucidrainsUNet)):
        if installed(name):
            registry.add("denoiser", name, cls)
