"""The sinusoidal embedding equals the seed post's formula."""

from __future__ import annotations

import math

import pytest
import torch

from diffkit.errors import ConfigError


def seed_embedding(time: torch.Tensor, dim: int) -> torch.Tensor:
    half_dim = dim // 2
    embeddings = math.log(10000) / (half_dim - 1)
    embeddings = torch.exp(torch.arange(half_dim) * -embeddings)
    embeddings = time[:, None] * embeddings[None, :]
    return torch.cat((embeddings.sin(), embeddings.cos()), dim=-1)


@pytest.mark.parametrize("dim", [4, 32, 128])
def test_sinusoidal_equals_seed_formula(plugins, dim):
    emb = plugins.registry.build("time_embedding", {"name": "sinusoidal", "dim": dim})
    t = torch.tensor([0, 1, 17, 299, 999])
    out = emb(t)
    assert out.shape == (5, dim)
    torch.testing.assert_close(out, seed_embedding(t.float(), dim), rtol=1e-5, atol=1e-5)
    assert torch.equal(out[0, : dim // 2], torch.zeros(dim // 2))  # sin(0) = 0
    assert torch.equal(out[0, dim // 2 :], torch.ones(dim // 2))  # cos(0) = 1


@pytest.mark.parametrize("dim", [3, 2, 7])
def test_sinusoidal_rejects_dims_the_formula_cannot_use(plugins, dim):
    with pytest.raises(ConfigError, match="time_embedding.dim"):
        plugins.registry.build("time_embedding", {"name": "sinusoidal", "dim": dim})
