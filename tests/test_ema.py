"""EMA arithmetic, the learning-rate schedule and weight-decay groups, by hand."""

from __future__ import annotations

import math

import pytest
import torch
from omegaconf import OmegaConf
from torch import nn

from diffkit.runner.optim import build_lr_schedule, build_optimizer, lr_factor, param_groups
from diffkit_builtin.ema.exponential import ExponentialEMA as EMA


class Tiny(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.tensor([0.0, 10.0]))
        self.register_buffer("count", torch.tensor(0.0))


def test_ema_with_warmup_matches_hand_computation():
    model = Tiny()
    ema = EMA(model, decay=0.8, warmup=True)
    expected = torch.tensor([0.0, 10.0])
    values = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0]
    decays = []
    for t, v in enumerate(values):
        with torch.no_grad():
            model.w.fill_(v)
            model.count.fill_(t)
        d = min(0.8, (1 + t) / (10 + t))  # 0.1, 0.1818, 0.25, ... capped at 0.8 from t = 26
        decays.append(d)
        expected = d * expected + (1 - d) * v
        ema.update(model)
        torch.testing.assert_close(ema.model.w, expected)
        assert ema.model.count.item() == t  # buffers are copied, not averaged
    assert decays[0] == pytest.approx(0.1) and decays[1] == pytest.approx(2 / 11)
    assert ema.num_updates == 10


def test_ema_without_warmup_uses_the_constant_decay():
    model = Tiny()
    ema = EMA(model, decay=0.5, warmup=False)
    for v in (4.0, 8.0):
        with torch.no_grad():
            model.w.fill_(v)
        ema.update(model)
    # [0, 10] -> [2, 7] -> [5, 7.5]
    torch.testing.assert_close(ema.model.w, torch.tensor([5.0, 7.5]))


def test_ema_decay_caps_the_warmup():
    ema = EMA(Tiny(), decay=0.9, warmup=True)
    ema.num_updates = 1000
    assert ema.current_decay() == 0.9
    ema.num_updates = 70  # (71 / 80) < 0.9
    assert ema.current_decay() == pytest.approx(71 / 80)


def test_ema_state_round_trip_and_independence():
    model = Tiny()
    ema = EMA(model, decay=0.5, warmup=False)
    with torch.no_grad():
        model.w.fill_(2.0)
    ema.update(model)
    other = EMA(Tiny(), decay=0.5, warmup=False)
    other.load_state_dict(ema.state_dict())
    assert other.num_updates == 1
    torch.testing.assert_close(other.model.w, torch.tensor([1.0, 6.0]))
    assert not other.model.w.requires_grad and not other.model.training
    torch.testing.assert_close(model.w, torch.tensor([2.0, 2.0]))  # the live model is untouched


@pytest.mark.parametrize(
    ("step", "schedule", "expected"),
    [
        (0, "cosine", 1 / 4),
        (3, "cosine", 1.0),  # last warm-up step
        (4, "cosine", 1.0),  # p = 0
        (9, "cosine", 0.5 * (1 + math.cos(math.pi * 5 / 10))),
        (14, "cosine", 0.5 * (1 + math.cos(math.pi * 10 / 10))),
        (9, "constant", 1.0),
    ],
)
def test_lr_factor_warmup_then_cosine(step, schedule, expected):
    assert lr_factor(step, warmup_steps=4, total_steps=14, schedule=schedule) == pytest.approx(expected, abs=1e-12)


def test_lr_schedule_drives_the_optimizer():
    cfg = OmegaConf.create(
        {
            "optim": {
                "name": "adamw",
                "lr": 0.1,
                "weight_decay": 0.0,
                "betas": [0.9, 0.999],
                "warmup_steps": 2,
                "lr_schedule": "cosine",
            },
            "train": {"steps": 6},
        }
    )
    opt = build_optimizer(cfg, nn.Linear(2, 2))
    sched = build_lr_schedule(cfg, opt)
    lrs = []
    for _ in range(6):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    expected = [0.05, 0.1] + [0.05 * (1 + math.cos(math.pi * k / 4)) for k in range(4)]
    assert lrs == pytest.approx(expected)
    assert isinstance(opt, torch.optim.AdamW)


def test_weight_decay_spares_biases_and_norms():
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.GroupNorm(2, 4), nn.Linear(4, 2))
    decay, no_decay = param_groups(model, 0.01)
    assert decay["weight_decay"] == 0.01 and no_decay["weight_decay"] == 0.0
    assert {p.ndim for p in decay["params"]} == {2, 4} and len(decay["params"]) == 2
    assert {p.ndim for p in no_decay["params"]} == {1} and len(no_decay["params"]) == 4
    assert [len(g["params"]) for g in param_groups(model, 0.0)] == [2, 4]  # same grouping without decay
    assert len(param_groups(nn.Linear(2, 2, bias=False), 0.01)) == 1  # no empty group


def test_adamw_decays_only_the_matrices():
    cfg = OmegaConf.create({"optim": {"name": "adamw", "lr": 0.5, "weight_decay": 0.1, "betas": [0.9, 0.999]}})
    layer = nn.Linear(1, 1)
    with torch.no_grad():
        layer.weight.fill_(2.0)
        layer.bias.fill_(2.0)
    opt = build_optimizer(cfg, layer)
    layer.weight.grad = torch.zeros_like(layer.weight)
    layer.bias.grad = torch.zeros_like(layer.bias)
    opt.step()
    # zero gradient: AdamW only applies w <- w (1 - lr wd) = 2 * 0.95
    assert layer.weight.item() == pytest.approx(1.9)
    assert layer.bias.item() == pytest.approx(2.0)


def test_resume_keeps_biases_free_of_weight_decay(plugins, tmp_path):
    """reapply_config (the config's hyperparameters after a resume) must not decay the no-decay group."""
    from diffkit.config import compose
    from diffkit.runner.optim import reapply_config

    cfg = compose(None, ["optim.name=adamw", "optim.weight_decay=0.05", "optim.lr=0.01"], plugins.registry).cfg
    model = nn.Sequential(nn.Linear(2, 2), nn.GroupNorm(1, 2))
    saved = build_optimizer(cfg, model).state_dict()
    restored = build_optimizer(cfg, model)
    restored.load_state_dict(saved)
    reapply_config(cfg, restored, build_lr_schedule(cfg, restored))
    assert [g["weight_decay"] for g in restored.param_groups] == [0.05, 0.0]
