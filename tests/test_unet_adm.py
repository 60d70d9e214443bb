"""The ADM U-Net: shapes for odd configurations, zero-initialised output, and
time/label conditioning that reaches the output."""

from __future__ import annotations

import pytest
import torch

from diffkit.errors import ConfigError


def build(plugins, in_channels=1, num_classes=0, dim=16, embedding="sinusoidal", **params):
    emb = plugins.registry.build("time_embedding", {"name": embedding, "dim": dim}, num_timesteps=100)
    node = {
        "name": "unet_adm",
        "channels": [8, 16],
        "num_res_blocks": 1,
        "attention_resolutions": [2],
        "dropout": 0.0,
        "num_heads": 2,
        **params,
    }
    return plugins.registry.build(
        "denoiser", node, in_channels=in_channels, time_embedding=emb, num_classes=num_classes
    )


def perturb(model, seed=0):
    """Move every weight off its initial value, so zero-initialised layers pass signal."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.2 * torch.randn(p.shape, generator=g))
    return model.eval()


@pytest.mark.parametrize(
    ("in_channels", "size", "params"),
    [
        (1, 8, {}),
        (3, 12, {"channels": [8, 12, 20], "attention_resolutions": [1, 4], "num_heads": 4}),
        (2, 20, {"channels": [6, 10, 14], "num_res_blocks": 3, "attention_resolutions": [], "num_heads": 1}),
        (1, 5, {"channels": [4], "attention_resolutions": [1], "num_heads": 1}),
        (4, 16, {"channels": [8, 8, 8, 8, 8], "attention_resolutions": [8, 16], "dropout": 0.3}),
    ],
)
def test_output_shape_and_zero_init(plugins, in_channels, size, params):
    model = build(plugins, in_channels=in_channels, embedding="fourier", **params)
    assert model.check_image_size(size) is None
    x = torch.randn(3, in_channels, size, size)
    t = torch.tensor([0, 50, 99])
    out = model(x, t)
    assert out.shape == x.shape and out.dtype == x.dtype
    assert torch.equal(out, torch.zeros_like(out))  # zero-initialised output conv
    out = perturb(model)(x, t)
    assert out.shape == x.shape and torch.isfinite(out).all() and out.abs().sum() > 0


def test_time_changes_the_output(plugins):
    model = perturb(build(plugins))
    x = torch.randn(1, 1, 8, 8).expand(2, 1, 8, 8)
    out = model(x, torch.tensor([3, 80]))
    assert (out[0] - out[1]).abs().max() > 1e-3


def test_label_changes_the_output_and_none_means_the_null_label(plugins):
    model = perturb(build(plugins, num_classes=3))
    assert model.label_emb.num_embeddings == 4  # 3 classes + "no label"
    x = torch.randn(1, 1, 8, 8).expand(4, 1, 8, 8)
    t = torch.full((4,), 40)
    out = model(x, t, torch.tensor([0, 1, 2, 3]))
    for a in range(4):
        for b in range(a + 1, 4):
            assert (out[a] - out[b]).abs().max() > 1e-3
    torch.testing.assert_close(model(x[:1], t[:1], None), out[3:])


def test_dropout_is_active_only_in_training(plugins):
    model = perturb(build(plugins, dropout=0.5))
    x, t = torch.randn(2, 1, 8, 8), torch.tensor([1, 2])
    torch.testing.assert_close(model(x, t), model(x, t))
    model.train()
    assert not torch.equal(model(x, t), model(x, t))


def test_gradients_reach_every_parameter(plugins):
    model = perturb(build(plugins, num_classes=2, embedding="learned")).train()
    model(torch.randn(2, 1, 8, 8), torch.tensor([5, 6]), torch.tensor([0, 1])).square().sum().backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert missing == []


def test_check_image_size_names_the_factor(plugins):
    model = build(plugins, channels=[8, 8, 8])
    assert model.check_image_size(16) is None
    assert "multiple of 4" in model.check_image_size(10)


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"channels": []}, "denoiser.channels"),
        ({"attention_resolutions": [3]}, r"denoiser.attention_resolutions=\[3\] must be downsampling factors"),
        ({"num_heads": 3}, "denoiser.num_heads=3"),
        ({"num_res_blocks": 0}, "denoiser.num_res_blocks=0"),
        ({"dropout": 1.0}, "denoiser.dropout=1.0"),
    ],
)
def test_bad_parameters_are_config_errors(plugins, params, match):
    with pytest.raises(ConfigError, match=match):
        build(plugins, **params)


def test_bad_image_size_is_reported_at_build(plugins):
    from diffkit.config import compose
    from diffkit.runner.build import build_components

    cfg = compose(
        None, ["denoiser.name=unet_adm", "denoiser.channels=[8,8,8]", "data.image_size=10"], plugins.registry
    ).cfg
    with pytest.raises(ConfigError, match=r"data.image_size=10 does not suit denoiser 'unet_adm'.*multiple of 4"):
        build_components(plugins.registry, cfg, 1)


def test_a_patch_stem_runs_the_network_at_a_smaller_resolution(plugins):
    """patch_size=2 on 28x28: PixelUnshuffle in, PixelShuffle out, every level at 14x14 and below."""
    model = build(plugins, patch_size=2)
    assert model.check_image_size(28) is None and "multiple of 4" in model.check_image_size(30)
    seen = []
    model.input.register_forward_hook(lambda m, i, o: seen.append((tuple(i[0].shape), tuple(o.shape))))
    x, t = torch.randn(3, 1, 28, 28), torch.tensor([0, 50, 99])
    out = model(x, t)
    assert seen == [((3, 4, 14, 14), (3, 8, 14, 14))]  # C p^2 channels at H / p
    assert out.shape == x.shape and torch.equal(out, torch.zeros_like(out))  # still zero-initialised
    out = perturb(model)(x, t)
    assert out.shape == x.shape and torch.isfinite(out).all() and out.abs().sum() > 0
    with pytest.raises(ConfigError, match=r"denoiser.patch_size=0 must be an integer >= 1"):
        build(plugins, patch_size=0)


def test_patch_size_1_is_the_network_without_a_stem(plugins):
    torch.manual_seed(0)
    plain = build(plugins)
    torch.manual_seed(0)
    one = build(plugins, patch_size=1)
    assert list(plain.state_dict()) == list(one.state_dict())  # old checkpoints load unchanged
    x, t = torch.randn(2, 1, 8, 8), torch.tensor([3, 70])
    torch.testing.assert_close(perturb(plain)(x, t), perturb(one)(x, t), rtol=0, atol=0)
