"""Class conditioning with classifier-free guidance on a 2-class toy problem built so
that the class is readable from the pixels: class 0 images are dark, class 1 bright."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from diffkit import Dataset, ImageData, load_plugins
from diffkit import checkpoint as ckpt
from diffkit.config import compose
from diffkit.errors import ConfigError
from diffkit.runner.build import build_components
from diffkit.runner.sample import generate
from diffkit.runner.train import train
from tests.conftest import run_cli


class TwoTone(Dataset):
    """256 flat 8x8 grey images: label 0 in 0..40 (dark), label 1 in 215..255 (bright)."""

    def load(self, split: str = "train") -> ImageData:
        g = torch.Generator().manual_seed(0)
        labels = torch.arange(256) % 2
        level = torch.randint(0, 41, (256,), generator=g) + 215 * labels
        images = level.to(torch.uint8)[:, None, None, None].expand(256, 1, 8, 8).contiguous()
        return ImageData(images, labels, 2)


TOY = [
    "data.name=two_tone",
    "data.image_size=8",
    "data.batch_size=16",
    "scheduler.num_timesteps=40",
    "scheduler.beta_end=0.25",
    # v-prediction: with eps-prediction the class lives in x_t - sqrt(1 - abar) eps_hat, which
    # 60 steps of training do not resolve at high noise (x0_hat = that / sqrt(abar), abar ~ 0.004)
    "scheduler.prediction_type=v",
    "time_embedding.dim=16",
    "denoiser.name=unet_adm",
    "denoiser.channels=[8,8]",
    "denoiser.num_res_blocks=1",
    "denoiser.attention_resolutions=[2]",
    "denoiser.dropout=0.0",
    "loss.name=l2",
    "optim.name=adamw",
    "optim.lr=0.003",
    "ema.decay=0.9",
    "train.conditional=true",
    "train.label_dropout=0.2",
    "train.steps=60",
    "train.log_every=20",
    "train.sample_every=0",
    "train.checkpoint_every=0",
    "train.num_samples=4",
    "train.progress=false",
    "train.device=cpu",
]


@pytest.fixture(scope="module")
def toy_plugins():
    plugins = load_plugins(autoload=False)
    plugins.registry.add("dataset", "two_tone", TwoTone)
    return plugins


@pytest.fixture(scope="module")
def toy_run(toy_plugins, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("toy") / "run"
    composed = compose(None, [*TOY, f"run.dir={run_dir}"], toy_plugins.registry)
    return train(composed, toy_plugins)


def load_denoiser(plugins, run_dir):
    state = ckpt.load(ckpt.latest(run_dir / "checkpoints"))
    cfg = compose(None, [], plugins.registry, base=state["config"]).cfg
    parts = build_components(plugins.registry, cfg, state["in_channels"], state["num_classes"])
    parts.denoiser.load_state_dict(state["ema"]["model"])
    return parts, state


@pytest.mark.parametrize("guidance", [1.0, 3.0])
def test_sampling_produces_the_requested_class(toy_plugins, toy_run, guidance):
    parts, state = load_denoiser(toy_plugins, toy_run)
    assert state["num_classes"] == 2
    means = {}
    for label in (0, 1):
        images = generate(
            parts.denoiser,
            parts.scheduler,
            parts.sampler,
            8,
            (1, 8, 8),
            device=torch.device("cpu"),
            seed=1,
            class_label=label,
            guidance_scale=guidance,
        )
        means[label] = images.flatten(1).mean(1)
    # class 0 was trained on values in [-1, -0.68], class 1 on [0.69, 1]
    assert (means[0] < -0.3).all(), means[0]
    assert (means[1] > 0.3).all(), means[1]


def test_label_changes_the_output_of_the_trained_model(toy_plugins, toy_run):
    parts, _ = load_denoiser(toy_plugins, toy_run)
    x = torch.randn(4, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    t = torch.full((4,), 30)
    with torch.no_grad():
        dark, bright, null = (parts.denoiser.eval()(x, t, torch.full((4,), y)) for y in (0, 1, 2))
    # v = sqrt(abar) eps - sqrt(1 - abar) x0: a brighter x0 means a smaller v at the same x_t
    assert (bright.mean((1, 2, 3)) < null.mean((1, 2, 3))).all()
    assert (null.mean((1, 2, 3)) < dark.mean((1, 2, 3))).all()


@pytest.mark.slow
def test_cli_samples_a_class_with_guidance(toy_run, tmp_path):
    out = tmp_path / "bright.npz"
    run_cli("sample", str(toy_run), "--num", "6", "--class", "1", "--guidance", "2.0", "--out", str(out))
    arr = np.load(out)["arr_0"]
    assert arr.shape == (6, 8, 8, 1) and arr.dtype == np.uint8
    assert (arr.reshape(6, -1).mean(1) > 160).all()

    bad = run_cli("sample", str(toy_run), "--class", "2", "--out", str(tmp_path / "x.png"), check=False)
    assert bad.returncode == 2
    assert bad.stderr.strip().count("\n") == 0 and "--class 2" in bad.stderr and "0..1" in bad.stderr


def test_guidance_without_a_class_is_rejected(toy_plugins, toy_run):
    parts, _ = load_denoiser(toy_plugins, toy_run)
    with pytest.raises(ConfigError, match="--guidance 2.0 needs --class"):
        generate(
            parts.denoiser, parts.scheduler, parts.sampler, 1, (1, 8, 8), device=torch.device("cpu"), guidance_scale=2.0
        )


def test_conditional_training_needs_labels(toy_plugins, tmp_path):
    class Unlabelled(TwoTone):
        def load(self, split: str = "train") -> ImageData:
            return ImageData(super().load(split).images, None, 0)

    plugins = load_plugins(autoload=False)
    plugins.registry.add("dataset", "unlabelled", Unlabelled)
    composed = compose(None, [*TOY, "data.name=unlabelled", f"run.dir={tmp_path / 'r'}"], plugins.registry)
    with pytest.raises(ConfigError, match="train.conditional=true needs labelled data"):
        train(composed, plugins)
