"""What metrics see: the images a user would save (clamped, uint8), and feature-space
weights checked when the run starts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from diffkit.config import compose
from diffkit.errors import CheckpointError, ConfigError
from diffkit.interfaces import MetricContext
from diffkit.runner import evaluate
from diffkit.runner.data import fit_size, to_model_range
from diffkit.runner.evaluate import Evaluator
from diffkit.runner.sample import as_saved, load_npz, save_images
from diffkit_builtin.metrics.classifier import CACHE_ENV
from tests.conftest import TINY
from tests.test_checkpoint_cli import cli
from tests.test_metrics import feature_cache  # noqa: F401 - the digits-8 feature classifier


def test_as_saved_is_the_npz_round_trip(tmp_path):
    images = torch.tensor([-3.0, -1.0, -0.0031, 0.0, 0.5, 0.999, 7.0]).reshape(1, 1, 1, 7)
    save_images(images, tmp_path / "x.npz")
    loaded = load_npz(tmp_path / "x.npz")
    assert torch.equal(as_saved(images), loaded)
    # clamped to [-1, 1], then 256 levels: 255 (x + 1) / 2 rounded, back to [-1, 1]
    expected = torch.tensor([0, 0, 127, 128, 191, 255, 255]).float().div(127.5).sub(1).reshape(1, 1, 1, 7)
    assert torch.equal(loaded, expected)
    assert torch.equal(as_saved(loaded), loaded)  # real images (already uint8) pass through unchanged


def test_scoring_a_saved_npz_equals_scoring_in_process(tmp_path, capsys, monkeypatch, plugins, feature_cache):  # noqa: F811
    monkeypatch.setenv(CACHE_ENV, str(feature_cache))
    run_dir = tmp_path / "run"
    # cosine, unclipped: the model's samples leave [-1, 1], so clamping and quantising change the scores
    overrides = [
        *TINY,
        "scheduler.name=cosine",
        "sampler.clip_sample=false",
        "train.steps=2",
        "train.checkpoint_every=0",
        f"run.dir={run_dir}",
    ]
    assert cli(capsys, "train", *overrides).returncode == 0
    assert (
        cli(
            capsys,
            "sample",
            str(run_dir),
            "--num",
            "40",
            "--seed",
            "3",
            "--batch-size",
            "250",
            "--out",
            str(tmp_path / "x.npz"),
        ).returncode
        == 0
    )
    cfg = compose(None, [], plugins.registry, base=_yaml(run_dir / "config.yaml")).cfg
    scorer = Evaluator(plugins.registry, cfg, torch.device("cpu"), ["fid", "precision_recall"])
    real = as_saved(to_model_range(fit_size(scorer.dataset.load("test"), 8).images))
    fake = load_npz(tmp_path / "x.npz")
    assert fake.shape == (40, 1, 8, 8)
    saved = {f"eval/{k}": v for m in scorer.metrics for k, v in m.compute(real, fake).items()}

    def in_process() -> dict:
        assert (
            cli(
                capsys,
                "eval",
                str(run_dir),
                "--num",
                "40",
                "--seed",
                "3",
                "--metric",
                "fid",
                "--metric",
                "precision_recall",
            ).returncode
            == 0
        )
        scores = json.loads((run_dir / "metrics.json").read_text())
        return {k: scores[k] for k in saved}

    # FID agrees to float rounding of the feature statistics (the eigen-solver's order of operations)
    assert in_process() == pytest.approx(saved, rel=1e-6)
    monkeypatch.setattr(evaluate, "as_saved", lambda images: images)  # mutant: score the raw floats
    assert in_process() != pytest.approx(saved, rel=1e-6)


def _yaml(path: Path) -> dict:
    import yaml

    return yaml.safe_load(path.read_text())


# -- feature spaces ---------------------------------------------------------------


def test_missing_tf_inception_weights_stop_a_run_before_training(tmp_path, capsys):
    pytest.importorskip("pytorch_fid", reason='features=tf_inception needs pip install "diffkit[fid]"')
    run_dir = tmp_path / "run"
    result = cli(
        capsys,
        "train",
        *TINY,
        f"run.dir={run_dir}",
        f"eval.metrics=[{{name: fid, features: tf_inception, weights: {tmp_path / 'pt_inception.pth'}}}]",
    )
    assert result.returncode == 2 and not run_dir.exists()
    lines = result.stderr.strip().splitlines()
    assert lines == [
        f"diffkit: error: features=tf_inception weights={tmp_path / 'pt_inception.pth'}: file not found "
        "(the TF-FID pt_inception-2015-12-05-6726825d.pth)"
    ]
    assert (
        "needs weights"
        in cli(
            capsys, "train", *TINY, f"run.dir={run_dir}", "eval.metrics=[{name: fid, features: tf_inception}]"
        ).stderr
    )
    assert (
        "inception weights=/nowhere.pth: file not found"
        in cli(
            capsys,
            "train",
            *TINY,
            f"run.dir={run_dir}",
            "eval.metrics=[{name: fid, features: inception, weights: /nowhere.pth}]",
        ).stderr
    )


def test_tf_inception_download_offline_is_one_clear_error(tmp_path, monkeypatch):
    pytest.importorskip("pytorch_fid", reason='features=tf_inception needs pip install "diffkit[fid]"')
    from diffkit_builtin.metrics.tf_inception import tf_inception_extractor

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))  # no cached copy
    for var in ("https_proxy", "HTTPS_PROXY", "http_proxy", "HTTP_PROXY"):
        monkeypatch.setenv(var, "http://127.0.0.1:9")  # a closed port: offline at once
    with pytest.raises(CheckpointError, match=r"weights=download failed \(\w+\); download pt_inception-2015-12-05"):
        tf_inception_extractor("download", MetricContext("any", lambda: None))


@pytest.mark.slow
def test_tf_inception_features_from_a_local_weights_file(tmp_path, plugins):
    pytest.importorskip("pytorch_fid", reason='features=tf_inception needs pip install "diffkit[fid]"')
    from diffkit_builtin.metrics.tf_inception import tf_inception_network

    torch.manual_seed(0)
    path = tmp_path / "pt_inception-2015-12-05-6726825d.pth"
    torch.save(tf_inception_network().state_dict(), path)  # the real file's keys and shapes, random values
    fid = plugins.registry.build(
        "metric",
        {"name": "fid", "features": "tf_inception", "weights": str(path)},
        context=MetricContext("any", lambda: None),
    )
    assert fid.embed(torch.rand(3, 1, 8, 8) * 2 - 1).shape == (3, 2048)
    torch.save({"fc.weight": torch.zeros(1)}, path)
    broken = plugins.registry.build(
        "metric",
        {"name": "fid", "features": "tf_inception", "weights": str(path)},
        context=MetricContext("any2", lambda: None),
    )
    with pytest.raises(CheckpointError, match="does not match the TF-FID InceptionV3"):
        broken.embed(torch.zeros(1, 1, 8, 8))
    with pytest.raises(ConfigError, match="is not a feature space; use one of classifier, inception, tf_inception"):
        plugins.registry.build("metric", {"name": "fid", "features": "vgg"})
