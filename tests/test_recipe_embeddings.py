"""The fourier and learned time embeddings."""

from __future__ import annotations

import math

import pytest
import torch

from diffkit.errors import ConfigError


def build(plugins, **node):
    return plugins.registry.build("time_embedding", node, num_timesteps=200)


def test_fourier_features_by_hand(plugins):
    emb = build(plugins, name="fourier", dim=6, scale=3.0, seed=7)
    w = torch.randn(3, generator=torch.Generator().manual_seed(7)) * 3.0
    torch.testing.assert_close(emb.W, w)
    t = torch.tensor([0, 50, 199])
    arg = 2 * math.pi * (t.float() / 200)[:, None] * w[None]
    torch.testing.assert_close(emb(t), torch.cat([arg.sin(), arg.cos()], 1))
    assert torch.equal(emb(torch.tensor([0]))[0], torch.tensor([0.0, 0, 0, 1, 1, 1]))


def test_fourier_frequencies_are_kept_in_checkpoints(plugins):
    a = build(plugins, name="fourier", dim=8, seed=1)
    b = build(plugins, name="fourier", dim=8, seed=2)
    assert not torch.equal(a.W, b.W)
    b.load_state_dict(a.state_dict())
    torch.testing.assert_close(b(torch.tensor([3, 9])), a(torch.tensor([3, 9])))
    # scale sets the spread of the frequencies
    wide = build(plugins, name="fourier", dim=4096, scale=16.0)
    assert wide.W.std().item() == pytest.approx(16.0, rel=0.1)


def test_learned_table_has_one_row_per_timestep_and_trains(plugins):
    emb = build(plugins, name="learned", dim=5)
    assert emb.table.weight.shape == (200, 5)
    t = torch.tensor([0, 199, 7])
    torch.testing.assert_close(emb(t), emb.table.weight[t])
    torch.testing.assert_close(emb(t.float()), emb(t))
    emb(torch.tensor([7])).sum().backward()
    grad = emb.table.weight.grad
    assert grad[7].eq(1).all() and grad.abs().sum() == 5  # only row 7 moves


@pytest.mark.parametrize(
    ("node", "match"),
    [
        ({"name": "fourier", "dim": 5}, "time_embedding.dim=5 must be an even integer"),
        ({"name": "fourier", "dim": 8, "scale": 0}, "time_embedding.scale=0"),
        ({"name": "learned", "dim": 0}, "time_embedding.dim=0"),
    ],
)
def test_bad_parameters_are_config_errors(plugins, node, match):
    with pytest.raises(ConfigError, match=match):
        build(plugins, **node)


def test_runner_injects_num_timesteps(plugins):
    from diffkit.config import compose
    from diffkit.runner.build import build_components

    cfg = compose(
        None,
        ["time_embedding.name=learned", "scheduler.num_timesteps=37", "denoiser.channels=[8,16]"],
        plugins.registry,
    ).cfg
    parts = build_components(plugins.registry, cfg, 1)
    assert parts.time_embedding.table.num_embeddings == 37
    assert parts.time_embedding.build_config == {"name": "learned", "dim": 32}
