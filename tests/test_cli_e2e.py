"""End to end through the CLI on the real digits data: train, read TensorBoard back, sample."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from tests.conftest import TINY, run_cli


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    run_dir = tmp_path_factory.mktemp("e2e") / "run"
    proc = run_cli(
        "train",
        *TINY,
        "train.steps=40",
        "train.log_every=10",
        "train.checkpoint_every=20",
        "train.sample_every=20",
        f"run.dir={run_dir}",
    )
    assert proc.stdout.strip() == str(run_dir)
    return run_dir


def test_train_writes_checkpoints_samples_config_and_status(trained: Path):
    assert sorted(p.name for p in (trained / "checkpoints").iterdir()) == [
        "last.pt",
        "step_0000020.pt",
        "step_0000040.pt",
    ]
    assert (trained / "config.yaml").read_text().startswith("seed: 0")
    assert '"status": "completed"' in (trained / "status.json").read_text()
    grid = Image.open(trained / "samples" / "step_0000040.png")
    assert grid.size[0] > 8 and grid.size[1] > 8


def test_tensorboard_events_hold_loss_scalars_and_images(trained: Path):
    acc = EventAccumulator(str(trained), size_guidance={"images": 0, "scalars": 0})
    acc.Reload()
    tags = acc.Tags()
    assert {"train/loss", "train/lr", "train/images_per_sec"} <= set(tags["scalars"])
    losses = acc.Scalars("train/loss")
    assert [e.step for e in losses] == [10, 20, 30, 40]
    assert all(np.isfinite(e.value) and e.value > 0 for e in losses)
    assert {"samples", "forward_process"} <= set(tags["images"])
    img = acc.Images("samples")[-1]
    assert img.step == 40 and img.encoded_image_string[:4] == b"\x89PNG"


def test_sample_writes_npz_in_the_evaluation_suite_convention(trained: Path, tmp_path: Path):
    out = tmp_path / "s.npz"
    proc = run_cli("sample", str(trained), "--num", "5", "--out", str(out), "--batch-size", "2", "--seed", "3")
    assert proc.stdout.strip() == str(out)
    arr = np.load(out)["arr_0"]
    assert arr.dtype == np.uint8 and arr.shape == (5, 8, 8, 1)
    again = tmp_path / "again.npz"
    run_cli("sample", str(trained), "--num", "5", "--out", str(again), "--batch-size", "2", "--seed", "3")
    assert np.array_equal(arr, np.load(again)["arr_0"])  # seeded


def test_sample_png_grid(trained: Path, tmp_path: Path):
    run_cli("sample", str(trained), "--num", "4", "--out", str(tmp_path / "g.png"))
    assert Image.open(tmp_path / "g.png").format == "PNG"


@pytest.mark.slow
def test_loss_falls_on_real_digits(tmp_path: Path):
    run_dir = tmp_path / "run"
    run_cli(
        "train",
        "data.image_size=8",
        "denoiser.channels=[16,32]",
        "time_embedding.dim=16",
        "scheduler.num_timesteps=100",
        "train.steps=120",
        "train.log_every=20",
        "train.sample_every=0",
        "train.checkpoint_every=0",
        "train.progress=false",
        f"run.dir={run_dir}",
    )
    acc = EventAccumulator(str(run_dir))
    acc.Reload()
    losses = [e.value for e in acc.Scalars("train/loss")]
    assert len(losses) == 6
    assert losses[-1] < 0.7 * losses[0], losses


def test_swapping_by_name_changes_what_is_built_and_unknown_names_fail(tmp_path: Path):
    proc = run_cli("config", "loss.name=l1", "sampler.name=ddpm", "scheduler.num_timesteps=77")
    assert "num_timesteps: 77" in proc.stdout
    bad = run_cli("train", *TINY, "loss.name=l11", f"run.dir={tmp_path / 'r'}", check=False)
    assert bad.returncode == 2
    lines = bad.stderr.strip().splitlines()
    assert len(lines) == 1 and "unknown loss 'l11'" in lines[0] and "did you mean 'l1'" in lines[0]
    assert "Traceback" not in bad.stderr
    assert not (tmp_path / "r").exists()


def test_usage_errors_exit_2_with_one_line(tmp_path: Path):
    for args in (["train", "--bogus"], ["sample", str(tmp_path), "--num", "2"], ["nocommand"]):
        proc = run_cli(*args, check=False)
        assert proc.returncode == 2, args
        assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
        assert "Traceback" not in proc.stderr


def test_resume_after_the_last_checkpoint_finishes_the_end_phase(tmp_path: Path):
    run_dir = tmp_path / "run"
    run_cli("train", *TINY, f"run.dir={run_dir}")
    final_grid = run_dir / "samples" / "step_0000006.png"
    assert final_grid.is_file()
    # as if killed after the final checkpoint, while drawing the final samples
    final_grid.unlink()
    (run_dir / "status.json").write_text('{"status": "running", "step": 6}')
    run_cli("train", "--resume", str(run_dir))
    assert json.loads((run_dir / "status.json").read_text())["status"] == "completed"
    assert final_grid.is_file()
    again = run_cli("train", "--resume", str(run_dir))
    assert "already finished 6 of 6 steps" in again.stderr
