"""The modern recipe end to end: configs/fashion_mnist_modern.yaml trains (AdamW, warm-up
and cosine decay, clipping, bf16, accumulation, EMA, conditioning), resumes with its EMA,
and samples a class with guidance from the CLI."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from diffkit import checkpoint as ckpt
from diffkit.config import compose, validate
from diffkit.errors import ConfigError
from diffkit.runner.build import build_components
from diffkit.runner.optim import lr_factor
from diffkit.runner.train import train
from tests.conftest import REPO, run_cli

MODERN = str(REPO / "configs" / "fashion_mnist_modern.yaml")
#: the recipe shrunk to seconds: digits at 8x8 (labelled, no file access), a 2-level ADM U-Net.
SMALL = [
    "data.name=digits",
    "data.root=null",
    "data.image_size=8",
    "data.batch_size=8",
    "denoiser.channels=[8,16]",
    "denoiser.num_res_blocks=1",
    "denoiser.attention_resolutions=[2]",
    "time_embedding.dim=16",
    "scheduler.num_timesteps=50",
    "sampler.steps=4",
    "optim.warmup_steps=2",
    "ema.decay=0.9",
    "train.accumulate=2",
    "train.steps=6",
    "train.log_every=2",
    "train.sample_every=0",
    "train.checkpoint_every=3",
    "train.num_samples=2",
    "train.progress=false",
    "train.device=cpu",
    "train.precision=bf16",  # the config's auto picks fp32 on CPUs without native bf16; exercise bf16 anyway
]


def run(plugins, tmp, *extra, resume=None):
    composed = compose(MODERN, [*SMALL, f"run.dir={tmp}", *extra], plugins.registry)
    return train(composed, plugins, resume=resume)


def last_state(run_dir):
    return ckpt.load(ckpt.latest(run_dir / "checkpoints"))


def test_modern_config_builds_the_full_size_recipe(plugins):
    composed = compose(MODERN, [], plugins.registry)
    validate(composed)
    cfg = composed.cfg
    parts = build_components(plugins.registry, cfg, 1, 10)
    n = sum(p.numel() for p in parts.denoiser.parameters())
    assert 10e6 < n < 30e6
    assert parts.loss.weighting == "min_snr" and parts.scheduler.prediction_type == "v"
    assert cfg.optim.name == "adamw" and cfg.optim.lr_schedule == "cosine" and cfg.optim.grad_clip == 1.0
    assert cfg.ema.decay > 0 and cfg.train.conditional and cfg.train.precision == "auto"


@pytest.fixture(scope="module")
def recipe_run(plugins, tmp_path_factory):
    return run(plugins, tmp_path_factory.mktemp("recipe") / "run")


def test_recipe_trains_with_every_feature_on(recipe_run):
    state = last_state(recipe_run)
    assert state["step"] == 6 and state["num_classes"] == 10
    assert state["config"]["train"]["precision"] == "bf16" and state["config"]["train"]["accumulate"] == 2
    # AdamW with decay on matrices only; after 2 warm-up steps the cosine reached 0 at step 6
    groups = state["optimizer"]["param_groups"]
    assert [g["weight_decay"] for g in groups] == [0.01, 0.0]
    assert lr_factor(6, 2, 6, "cosine") == 0.0 and groups[0]["lr"] == pytest.approx(0.0, abs=1e-12)
    # one EMA update per optimizer step (not per micro-batch), and it lags the raw weights
    assert state["ema"]["num_updates"] == 6
    raw, ema = state["model"], state["ema"]["model"]
    assert any(not torch.equal(raw[k], ema[k]) for k in raw if raw[k].is_floating_point())


def test_resume_keeps_the_ema(plugins, tmp_path):
    # a constant lr: the cosine schedule's shape depends on train.steps, which the resume changes
    same = ["train.checkpoint_every=4", "optim.lr_schedule=constant"]
    straight = last_state(run(plugins, tmp_path / "a", "train.steps=8", *same))
    first = run(plugins, tmp_path / "b", "train.steps=4", *same)
    resumed = last_state(run(plugins, tmp_path / "b", "train.steps=8", *same, resume=first))
    assert resumed["ema"]["num_updates"] == 8
    for key, value in straight["ema"]["model"].items():
        torch.testing.assert_close(resumed["ema"]["model"][key], value, msg=key)


def test_fp16_on_the_cpu_is_a_config_error(plugins, tmp_path):
    with pytest.raises(ConfigError, match="train.precision=fp16 needs CUDA"):
        run(plugins, tmp_path / "run", "train.precision=fp16")


@pytest.mark.slow
def test_cli_samples_a_class_with_guidance_and_ema(recipe_run, tmp_path):
    out = {}
    for name, flags in (("ema", []), ("raw", ["--no-ema"])):
        path = tmp_path / f"{name}.npz"
        run_cli(
            "sample", str(recipe_run), "--num", "2", "--class", "3", "--guidance", "2.0", "--out", str(path), *flags
        )
        out[name] = np.load(path)["arr_0"]
        assert out[name].shape == (2, 8, 8, 1)
    assert not np.array_equal(out["ema"], out["raw"])  # sampling uses the EMA weights by default
