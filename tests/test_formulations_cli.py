"""EDM and rectified flow from the CLI on the digits: the shipped configs train (tiny
overrides), sample with every sampler, resume bit for bit and evaluate; the formulations
sweep runs end to end; a discrete-only time embedding is refused on a continuous process."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from diffkit import checkpoint as ckpt
from diffkit.cli.main import main
from diffkit.runner import rundir
from diffkit_builtin.metrics.classifier import CACHE_ENV
from tests.conftest import REPO
from tests.test_metrics import feature_cache  # noqa: F401 - the digits-8 feature classifier

#: the CPU recipes shrunk to seconds on the 8x8 digits (same keys the sweep test overrides)
TINY_RECIPE = [
    "data.name=digits",
    "data.image_size=8",
    "data.batch_size=16",
    "denoiser.channels=[8,16]",
    "denoiser.attention_resolutions=[]",
    "denoiser.num_heads=1",
    "time_embedding.dim=8",
    "train.steps=6",
    "train.log_every=2",
    "train.sample_every=0",
    "train.checkpoint_every=3",
    "train.num_samples=4",
    "train.progress=false",
    "optim.warmup_steps=2",
]
FORMULATIONS = ["edm", "flow"]


def _train(config: str, run_dir: Path, *extra: str) -> None:
    assert (
        main(
            [
                "train",
                str(REPO / "configs" / "cpu" / f"fashion_mnist_{config}.yaml"),
                *TINY_RECIPE,
                *extra,
                f"run.dir={run_dir}",
            ]
        )
        == 0
    )


@pytest.fixture(scope="module", params=FORMULATIONS)
def trained(request, tmp_path_factory) -> tuple[str, Path]:
    run_dir = tmp_path_factory.mktemp(request.param) / "run"
    _train(request.param, run_dir)
    return request.param, run_dir


def test_the_run_records_its_process(trained):
    name, run_dir = trained
    saved = yaml.safe_load((run_dir / rundir.CONFIG).read_text())
    assert saved["scheduler"]["name"] == {"edm": "edm", "flow": "rectified_flow"}[name]
    assert '"status": "completed"' in (run_dir / rundir.STATUS).read_text()


@pytest.mark.parametrize("sampler", ["ddim", "heun", "dpm_solver_pp", "ddpm"])
def test_every_sampler_samples_the_run(trained, tmp_path, sampler):
    _, run_dir = trained
    out = tmp_path / "s.npz"
    assert main(["sample", str(run_dir), "--sampler", sampler, "--steps", "4", "--num", "3", "--out", str(out)]) == 0
    arr = np.load(out)["arr_0"]
    assert arr.shape == (3, 8, 8, 1) and arr.dtype == np.uint8 and arr.std() > 0


def test_resume_from_a_checkpoint_is_bit_exact(trained, tmp_path):
    """Cut the run back to its step-3 checkpoint and resume: the final weights, EMA and
    optimizer state equal the uninterrupted run's (the continuous t draws resume too)."""
    _, run_dir = trained
    cut = tmp_path / "cut"
    shutil.copytree(run_dir, cut)
    for name in ("step_0000006.pt", "last.pt"):
        (cut / rundir.CHECKPOINTS / name).unlink()
    (cut / rundir.STATUS).unlink()
    assert main(["train", "--resume", str(cut)]) == 0
    got, want = ckpt.load(cut / rundir.CHECKPOINTS / "last.pt"), ckpt.load(run_dir / rundir.CHECKPOINTS / "last.pt")
    assert got["step"] == want["step"] == 6
    for key in ("model",):
        for name, tensor in want[key].items():
            assert torch.equal(got[key][name], tensor), name
    for name, tensor in want["ema"]["model"].items():
        assert torch.equal(got["ema"]["model"][name], tensor), name


def test_eval_scores_the_run(trained, feature_cache, monkeypatch, capsys):  # noqa: F811
    monkeypatch.setenv(CACHE_ENV, str(feature_cache))
    _, run_dir = trained
    capsys.readouterr()
    assert main(["eval", str(run_dir), "--num", "32", "--metric", "fid", "--steps", "4"]) == 0
    assert "fid" in capsys.readouterr().out


def test_learned_embedding_is_refused_on_a_continuous_process(tmp_path, capsys):
    code = main(
        [
            "train",
            str(REPO / "configs/cpu/fashion_mnist_flow.yaml"),
            *TINY_RECIPE,
            "time_embedding.name=learned",
            f"run.dir={tmp_path / 'run'}",
        ]
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1, err
    assert "time_embedding.name='learned' needs integer timesteps" in err[0] and "rectified_flow" in err[0]


@pytest.mark.long  # a whole sweep: minutes on 2 cores (python -m pytest -m long)
def test_the_formulations_sweep_runs_end_to_end(tmp_path, feature_cache, monkeypatch, capsys):  # noqa: F811
    """configs/sweeps/formulations.yaml with its five variants, one seed, at tiny size."""
    monkeypatch.setenv(CACHE_ENV, str(feature_cache))
    spec = yaml.safe_load((REPO / "configs/sweeps/formulations.yaml").read_text())
    tiny = dict(arg.split("=", 1) for arg in TINY_RECIPE)
    tiny = {k: yaml.safe_load(v) for k, v in tiny.items()}
    spec.update(
        base=str(REPO / "configs/cpu/fashion_mnist_modern.yaml"), dir=str(tmp_path / "sweep"), grid={"seed": [0]}
    )
    spec["overrides"].update(tiny)
    spec["overrides"]["eval"] = {"metrics": ["fid"], "num_samples": 16}
    spec["overrides"]["sampler"] = {"name": "dpm_solver_pp", "steps": 4}
    path = tmp_path / "formulations.yaml"
    path.write_text(yaml.safe_dump(spec))
    assert main(["sweep", str(path), "--jobs", "2"]) == 0
    names = sorted(p.name for p in (tmp_path / "sweep").iterdir() if p.name.endswith("-s0"))
    assert names == sorted(f"{v}-s0" for v in spec["variants"])
    for name in names:
        saved = yaml.safe_load((tmp_path / "sweep" / name / rundir.CONFIG).read_text())
        assert '"status": "completed"' in (tmp_path / "sweep" / name / rundir.STATUS).read_text(), name
        assert "fid" in (tmp_path / "sweep" / name / "metrics.json").read_text()
        variant = name.removesuffix("-s0")
        assert saved["scheduler"]["name"] == spec["variants"][variant]["scheduler"]["name"]


@pytest.mark.parametrize(
    "path",
    [
        "fashion_mnist_edm.yaml",
        "fashion_mnist_flow.yaml",
        "cpu/fashion_mnist_modern.yaml",
        "cpu/fashion_mnist_edm.yaml",
        "cpu/fashion_mnist_flow.yaml",
    ],
)
def test_the_shipped_configs_build_with_the_modern_network(plugins, path):
    """Each formulation's config composes, on the same network as the modern recipe of its size; the
    CPU sizes build (the GPU sizes differ only in the widths)."""
    from diffkit.config import compose
    from diffkit.runner.build import build_components

    cfg = compose(str(REPO / "configs" / path), [], plugins.registry).cfg
    modern = compose(
        str(REPO / "configs" / path.replace("edm", "modern").replace("flow", "modern")), [], plugins.registry
    ).cfg
    assert cfg.denoiser == modern.denoiser and cfg.time_embedding == modern.time_embedding and cfg.optim == modern.optim
    if path.startswith("cpu/"):
        parts = build_components(plugins.registry, cfg, in_channels=1, num_classes=10)
        assert parts.scheduler.discrete == (cfg.scheduler.name == "cosine")
