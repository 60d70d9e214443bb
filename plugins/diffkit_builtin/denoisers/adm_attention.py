"""Multi-head self-attention over the pixels of a feature map, as a residual block."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from .adm_blocks import group_norm, zero_init


class AttentionBlock(nn.Module):
    """x + proj(softmax(q k^T / sqrt(d)) v), with q, k, v = 1x1 convs of GN(x), per head.

    The output projection is zero-initialised. x: (B, C, H, W) -> (B, C, H, W);
    C must be divisible by `num_heads` (d = C / num_heads).
    """

    def __init__(self, channels: int, num_heads: int = 1) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.norm = group_norm(channels)
        self.qkv = nn.Conv1d(channels, 3 * channels, 1)
        self.proj = zero_init(nn.Conv1d(channels, channels, 1))

    def forward(self, x: Tensor) -> Tensor:
        b, c, h, w = x.shape
        qkv = self.qkv(self.norm(x).reshape(b, c, h * w))
        # (B, 3C, N) -> three (B, heads, N, d)
        q, k, v = qkv.reshape(b, 3, self.num_heads, c // self.num_heads, h * w).permute(1, 0, 2, 4, 3)
        out = F.scaled_dot_product_attention(q, k, v)
        out = out.permute(0, 1, 3, 2).reshape(b, c, h * w)
        return x + self.proj(out).reshape(b, c, h, w)
