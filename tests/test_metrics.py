"""Sample-quality metrics: closed forms, the offline feature classifier, and FID of
real digits against noise."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.linalg
import torch

from diffkit.errors import ConfigError, DataError
from diffkit.interfaces import ImageData, MetricContext
from diffkit.runner.data import fit_size, to_model_range
from diffkit_builtin.datasets.digits import DigitsDataset
from diffkit_builtin.metrics import classifier
from diffkit_builtin.metrics.frechet import frechet_distance
from diffkit_builtin.metrics.precision_recall import precision_recall

SIZE = 8


def digits_context() -> MetricContext:
    return MetricContext(f"digits-{SIZE}", lambda: fit_size(DigitsDataset().load("train"), SIZE))


@pytest.fixture(scope="session")
def feature_cache(tmp_path_factory) -> Path:
    """A cache dir holding the digits-8 feature classifier (trained once, briefly);
    point DIFFKIT_CACHE_DIR at it."""
    root = tmp_path_factory.getbasetemp() / "diffkit-cache"
    mp = pytest.MonkeyPatch()
    mp.setenv(classifier.CACHE_ENV, str(root))
    path = classifier.cache_path(f"digits-{SIZE}")
    if not path.is_file():
        from diffkit import checkpoint as ckpt

        ckpt.save_atomic(classifier.train_classifier(digits_context(), steps=150), path)
    mp.undo()
    return root


def test_frechet_distance_matches_the_closed_form_for_diagonal_covariances():
    mu1, mu2 = torch.tensor([0.0, 1.0, 2.0]), torch.tensor([1.0, 1.0, 0.0])
    s1, s2 = torch.tensor([1.0, 4.0, 9.0]), torch.tensor([4.0, 1.0, 1.0])  # standard deviations
    d2 = frechet_distance(mu1.double(), torch.diag(s1**2).double(), mu2.double(), torch.diag(s2**2).double())
    expected = (mu1 - mu2).square().sum() + (s1 - s2).square().sum()  # 5 + (1 + 1 + 4... ) per axis
    assert d2 == pytest.approx(float(expected), rel=1e-9)


def test_frechet_distance_matches_scipy_sqrtm_on_random_covariances():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(6, 6, generator=g, dtype=torch.float64), torch.randn(6, 6, generator=g, dtype=torch.float64)
    s1, s2 = a @ a.T + 0.1 * torch.eye(6), b @ b.T
    mu1, mu2 = torch.randn(6, generator=g, dtype=torch.float64), torch.randn(6, generator=g, dtype=torch.float64)
    root = scipy.linalg.sqrtm(s1.numpy() @ s2.numpy()).real
    expected = float((mu1 - mu2).square().sum()) + np.trace(s1.numpy() + s2.numpy() - 2 * root)
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(expected, rel=1e-8)
    assert frechet_distance(mu1, s1, mu1, s1) == pytest.approx(0.0, abs=1e-8)


def test_precision_recall_of_identical_disjoint_and_half_overlapping_sets():
    g = torch.Generator().manual_seed(0)
    real = torch.randn(200, 4, generator=g, dtype=torch.float64)
    assert precision_recall(real, real.clone(), k=3) == (1.0, 1.0)
    far = real + 100.0
    assert precision_recall(real, far, k=3) == (0.0, 0.0)
    half = torch.cat([real[:100], far[:100]])
    precision, recall = precision_recall(real, half, k=3)
    assert precision == 0.5  # exactly the 100 copies of real points are inside the real manifold
    assert 0.3 < recall < 1.0


def test_metrics_are_registered_and_check_their_parameters(plugins):
    assert {"fid", "precision_recall"} <= set(plugins.registry.names("metric"))
    with pytest.raises(ConfigError, match="features='vgg' is not a feature space; use one of classifier, inception"):
        plugins.registry.build("metric", {"name": "fid", "features": "vgg"})
    with pytest.raises(ConfigError, match="k=0 must be >= 1"):
        plugins.registry.build("metric", {"name": "precision_recall", "k": 0})


def test_fid_of_held_out_digits_is_far_below_fid_of_noise(plugins, feature_cache, monkeypatch):
    monkeypatch.setenv(classifier.CACHE_ENV, str(feature_cache))
    context = digits_context()
    fid = plugins.registry.build("metric", {"name": "fid"}, context=context)
    pr = plugins.registry.build("metric", {"name": "precision_recall"}, context=context)
    test = to_model_range(fit_size(DigitsDataset().load("test"), SIZE).images)
    held_out = context.train().images[-len(test) :]  # real digits the test split does not contain
    real = to_model_range(held_out)
    noise = torch.rand(test.shape, generator=torch.Generator().manual_seed(0)) * 2 - 1
    fid_real, fid_noise = fid.compute(test, real)["fid"], fid.compute(test, noise)["fid"]
    assert fid_real < 0.1 * fid_noise, (fid_real, fid_noise)
    real_pr, noise_pr = pr.compute(test, real), pr.compute(test, noise)
    assert real_pr["precision"] > 0.7 and real_pr["recall"] > 0.5, real_pr
    assert noise_pr["precision"] < 0.05 and noise_pr["recall"] < 0.05, noise_pr
    assert len(context.shared) == 1  # both metrics used one feature network


def test_classifier_is_accurate_cached_and_reused(feature_cache, monkeypatch):
    monkeypatch.setenv(classifier.CACHE_ENV, str(feature_cache))
    path = classifier.cache_path(f"digits-{SIZE}")
    state = torch.load(path, weights_only=True)
    assert state["accuracy"] > 0.85 and state["num_classes"] == 10
    before = path.stat().st_mtime_ns
    net = classifier.classifier_extractor(None, digits_context())
    assert path.stat().st_mtime_ns == before  # loaded, not retrained
    assert net(torch.zeros(2, 1, SIZE, SIZE)).shape == (2, 64)


def test_classifier_features_need_labels(tmp_path, monkeypatch):
    monkeypatch.setenv(classifier.CACHE_ENV, str(tmp_path))
    unlabelled = MetricContext("blank-8", lambda: ImageData(torch.zeros(10, 1, 8, 8, dtype=torch.uint8), None))
    with pytest.raises(DataError, match="needs class labels, and dataset blank-8 has none"):
        classifier.classifier_extractor(None, unlabelled)


@pytest.mark.slow
def test_inception_features_from_a_local_weights_file(tmp_path, plugins):
    from torchvision.models import inception_v3

    path = tmp_path / "inception.pth"
    torch.manual_seed(0)
    torch.save(inception_v3(weights=None, aux_logits=True, init_weights=False).state_dict(), path)
    context = MetricContext("any", lambda: None)
    fid = plugins.registry.build(
        "metric", {"name": "fid", "features": "inception", "weights": str(path)}, context=context
    )
    images = torch.rand(3, 1, 8, 8) * 2 - 1
    assert fid.embed(images).shape == (3, 2048)
    missing = plugins.registry.build("metric", {"name": "fid", "features": "inception"}, context=context)
    with pytest.raises(ConfigError, match="features=inception needs weights"):
        missing.embed(images)
