"""Losses and the min-SNR-gamma weighting against hand computations."""

from __future__ import annotations

import pytest
import torch

from diffkit.errors import ConfigError

OUT = torch.tensor([0.0, 1.0, -3.0, 0.5]).reshape(2, 1, 1, 2)
TARGET = torch.tensor([0.5, -1.0, 0.0, 0.5]).reshape(2, 1, 1, 2)
# residuals: sample 0: -0.5, 2.0; sample 1: -3.0, 0.0


def build(plugins, **node):
    return plugins.registry.build("loss", node)


def scheduler(plugins, prediction_type="eps"):
    return plugins.registry.build(
        "scheduler",
        {"name": "linear", "num_timesteps": 10, "beta_start": 0.1, "beta_end": 0.5, "prediction_type": prediction_type},
    )


@pytest.mark.parametrize(
    ("node", "per_sample"),
    [
        ({"name": "l1"}, [(0.5 + 2.0) / 2, (3.0 + 0.0) / 2]),
        ({"name": "l2"}, [(0.25 + 4.0) / 2, (9.0 + 0.0) / 2]),
        # delta 1: 0.5 r^2 inside, |r| - 0.5 outside
        ({"name": "huber"}, [(0.125 + 1.5) / 2, (2.5 + 0.0) / 2]),
        # delta 2.5: r = 2 is still quadratic (2.0), r = -3 gives 2.5 (3 - 1.25) = 4.375
        ({"name": "huber", "delta": 2.5}, [(0.125 + 2.0) / 2, (4.375 + 0.0) / 2]),
    ],
)
def test_unweighted_losses_are_plain_means(plugins, node, per_sample):
    loss = build(plugins, **node)
    t = torch.tensor([1, 7])
    value = loss(OUT, TARGET, t, scheduler(plugins))
    assert value.shape == ()
    assert value.item() == pytest.approx(sum(per_sample) / 2)


@pytest.mark.parametrize(
    ("prediction_type", "weight"),
    [
        ("eps", lambda snr, g: min(snr, g) / snr),
        ("x0", lambda snr, g: min(snr, g)),
        ("v", lambda snr, g: min(snr, g) / (snr + 1)),
    ],
)
@pytest.mark.parametrize("name", ["l1", "l2", "huber"])
def test_min_snr_weighting_by_hand(plugins, prediction_type, weight, name):
    sched = scheduler(plugins, prediction_type)
    betas = torch.linspace(0.1, 0.5, 10, dtype=torch.float64)
    abar = torch.cumprod(1 - betas, 0)
    t = torch.tensor([0, 6])  # snr(0) = 0.9 / 0.1 = 9 > gamma; snr(6) = 0.17 < gamma
    snr = [(abar[i] / (1 - abar[i])).item() for i in t]
    assert snr[0] == pytest.approx(9.0) and snr[1] == pytest.approx(0.1743, abs=1e-4)
    gamma = 2.0
    plain = build(plugins, name=name)
    weighted = build(plugins, name=name, weighting="min_snr", snr_gamma=gamma)
    per_sample = [plain(OUT[i : i + 1], TARGET[i : i + 1], t[i : i + 1], sched).item() for i in range(2)]
    expected = sum(weight(s, gamma) * p for s, p in zip(snr, per_sample)) / 2
    assert weighted(OUT, TARGET, t, sched).item() == pytest.approx(expected, rel=1e-5)


def test_eps_weight_is_one_at_zero_snr(plugins):
    from diffkit_builtin.losses.weighting import min_snr_weight

    w = min_snr_weight(torch.tensor([0.0, 1.0, 5.0, 20.0]), 5.0, "eps")
    torch.testing.assert_close(w, torch.tensor([1.0, 1.0, 1.0, 0.25]))


def test_weighting_reaches_the_gradient(plugins):
    sched = scheduler(plugins)
    out = OUT.clone().requires_grad_(True)
    build(plugins, name="l2", weighting="min_snr", snr_gamma=1.0)(out, TARGET, torch.tensor([0, 9]), sched).backward()
    # sample 0 has snr 9 -> weight 1/9; sample 1 has snr < 1 -> weight 1; dL/dout = w r / (2 elements * 2 samples) * 2
    r = (OUT - TARGET).flatten(1)
    torch.testing.assert_close(out.grad.flatten(1)[0], r[0] / 9 / 2, rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(out.grad.flatten(1)[1], r[1] / 2, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize(
    ("node", "match"),
    [
        ({"name": "l2", "weighting": "snr"}, r"loss.weighting='snr' is not allowed; use one of none, min_snr"),
        ({"name": "l1", "snr_gamma": 0}, r"loss.snr_gamma=0 is not allowed"),
        ({"name": "huber", "delta": -1.0}, r"loss.delta=-1.0 is not allowed"),
    ],
)
def test_bad_options_are_config_errors(plugins, node, match):
    with pytest.raises(ConfigError, match=match):
        build(plugins, **node)


def test_build_record_includes_the_weighting(plugins):
    loss = build(plugins, name="huber", weighting="min_snr")
    assert loss.build_config == {"name": "huber", "delta": 1.0, "weighting": "min_snr", "snr_gamma": 5.0}
