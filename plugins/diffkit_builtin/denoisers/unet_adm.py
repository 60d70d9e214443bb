"""The ADM U-Net (Dhariwal & Nichol 2021, "Diffusion Models Beat GANs"), sized by config."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from diffkit.errors import ConfigError
from diffkit.interfaces import Denoiser, TimeEmbedding

from .adm_attention import AttentionBlock
from .adm_blocks import Downsample, EmbedSequential, ResBlock, Upsample, group_norm, zero_init


def _positive_ints(name: str, values: Sequence[int], allow_empty: bool = False) -> list[int]:
    values = list(values)
    if (not values and not allow_empty) or any(isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in values):
        raise ConfigError(
            f"denoiser.{name}={values!r} must list {'' if allow_empty else 'at least one '}positive integers"
        )
    return values


class ADMUNet(Denoiser):
    """A U-Net of residual blocks (GroupNorm, SiLU, scale-and-shift time conditioning),
    self-attention at chosen resolutions and zero-initialised output layers, so the
    untrained network outputs 0.

    Level i works at 1 / 2**i of the input size with width ``channels[i]``; each level
    has ``num_res_blocks`` ResBlocks going down and ``num_res_blocks + 1`` going up
    (each taking a skip connection), and the bottleneck is ResBlock-Attention-ResBlock.
    The time features go through Linear-SiLU-Linear to E = 4 channels[0]; with
    ``num_classes`` > 0 a label embedding is added to them, and label ``num_classes``
    means "no label" (classifier-free guidance; used when y is None).
    x: (B, C, H, W), t: (B,), y: (B,) or None -> (B, C, H, W); H, W divisible by
    patch_size * 2 ** (len(channels) - 1).

    With ``patch_size`` p > 1 the network runs on p x p patches (Hoogeboom et al. 2023,
    "simple diffusion"): PixelUnshuffle turns x into (B, C p^2, H/p, W/p) before the input
    convolution and PixelShuffle turns the output's C p^2 channels back into (B, C, H, W),
    so every level works at 1/p of the resolution (p^2 fewer positions) for the same widths.

    Args:
        channels: widths from the input resolution down to the bottleneck.
        num_res_blocks: ResBlocks per level on the way down.
        attention_resolutions: downsampling factors (1, 2, 4, ...) whose levels get
            self-attention after each ResBlock, as in ADM's UNetModel.
        dropout: dropout probability inside the ResBlocks.
        num_heads: attention heads; must divide the width of every attention level.
        patch_size: side of the patches the network sees as pixels (1: the image itself).
    """

    def __init__(
        self,
        in_channels: int,
        time_embedding: TimeEmbedding,
        num_classes: int = 0,
        channels: Sequence[int] = (64, 128, 128),
        num_res_blocks: int = 2,
        attention_resolutions: Sequence[int] = (2, 4),
        dropout: float = 0.1,
        num_heads: int = 4,
        patch_size: int = 1,
    ) -> None:
        super().__init__(in_channels, time_embedding, num_classes)
        channels = _positive_ints("channels", channels)
        attention = set(_positive_ints("attention_resolutions", attention_resolutions, allow_empty=True))
        factors = [2**i for i in range(len(channels))]
        if not attention <= set(factors):
            raise ConfigError(
                f"denoiser.attention_resolutions={sorted(attention)} must be downsampling factors of "
                f"the levels, i.e. among {factors}"
            )
        if isinstance(num_res_blocks, bool) or not isinstance(num_res_blocks, int) or num_res_blocks < 1:
            raise ConfigError(f"denoiser.num_res_blocks={num_res_blocks!r} must be an integer >= 1")
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0 <= dropout < 1:
            raise ConfigError(f"denoiser.dropout={dropout!r} must be a number in [0, 1)")
        bad = [c for f, c in zip(factors, channels) if f in attention and c % num_heads]
        if isinstance(num_heads, bool) or not isinstance(num_heads, int) or num_heads < 1 or bad:
            raise ConfigError(f"denoiser.num_heads={num_heads!r} must be >= 1 and divide the attention widths {bad}")
        if isinstance(patch_size, bool) or not isinstance(patch_size, int) or patch_size < 1:
            raise ConfigError(f"denoiser.patch_size={patch_size!r} must be an integer >= 1")
        self.channels = channels
        self.num_downsamplings = len(channels) - 1
        self.patch_size = patch_size
        patched = in_channels * patch_size**2
        emb = 4 * channels[0]
        self.time_mlp = nn.Sequential(nn.Linear(time_embedding.dim, emb), nn.SiLU(), nn.Linear(emb, emb))
        self.label_emb = nn.Embedding(num_classes + 1, emb) if num_classes else None

        def res(a: int, b: int, level: int) -> EmbedSequential:
            layers: list[nn.Module] = [ResBlock(a, b, emb, dropout)]
            if factors[level] in attention:
                layers.append(AttentionBlock(b, num_heads))
            return EmbedSequential(layers)

        # -- down path: remember the width of every skip connection ---------------
        self.unshuffle = nn.PixelUnshuffle(patch_size) if patch_size > 1 else nn.Identity()
        self.input = nn.Conv2d(patched, channels[0], 3, padding=1)
        self.downs = nn.ModuleList()
        skips, width = [channels[0]], channels[0]
        for level, out in enumerate(channels):
            for _ in range(num_res_blocks):
                self.downs.append(res(width, out, level))
                width = out
                skips.append(width)
            if level < len(channels) - 1:
                self.downs.append(EmbedSequential([Downsample(width)]))
                skips.append(width)
        self.middle = EmbedSequential(
            [
                ResBlock(width, width, emb, dropout),
                AttentionBlock(width, num_heads),
                ResBlock(width, width, emb, dropout),
            ]
        )
        # -- up path: each block eats one skip connection ---------------------------
        self.ups = nn.ModuleList()
        for level in reversed(range(len(channels))):
            for i in range(num_res_blocks + 1):
                block = res(width + skips.pop(), channels[level], level)
                width = channels[level]
                if level and i == num_res_blocks:
                    block.append(Upsample(width))
                self.ups.append(block)
        self.out_norm = group_norm(width)
        self.output = zero_init(nn.Conv2d(width, patched, 3, padding=1))
        self.shuffle = nn.PixelShuffle(patch_size) if patch_size > 1 else nn.Identity()

    def check_image_size(self, size: int) -> str | None:
        factor = self.patch_size * 2**self.num_downsamplings
        if size % factor:
            return (
                f"patch_size {self.patch_size} and {self.num_downsamplings} downsamplings need a multiple of {factor}"
            )
        return None

    def embed(self, t: Tensor, y: Tensor | None) -> Tensor:
        """(B,) timesteps and labels -> (B, E) conditioning vector."""
        emb = self.time_mlp(self.time_embedding(t))
        if self.label_emb is not None:
            if y is None:
                y = torch.full_like(t, self.num_classes, dtype=torch.long)
            emb = emb + self.label_emb(y)
        return emb

    def forward(self, x: Tensor, t: Tensor, y: Tensor | None = None) -> Tensor:
        emb = self.embed(t, y)
        h = self.input(self.unshuffle(x))
        hs = [h]
        for block in self.downs:
            h = block(h, emb)
            hs.append(h)
        h = self.middle(h, emb)
        for block in self.ups:
            h = block(torch.cat([h, hs.pop()], dim=1), emb)
        return self.shuffle(self.output(F.silu(self.out_norm(h))))
