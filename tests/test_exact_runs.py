"""The exact tier end to end: a run on points trains, scores w2 / score_error / nll and draws
scatter plots (samples/ and TensorBoard); configs/sweeps/exact_2d.yaml runs and compares."""

from __future__ import annotations

import io
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from diffkit.interfaces import PointData
from diffkit.runner import visuals
from diffkit.sweep.spec import load_sweep
from tests.conftest import REPO, run_cli

#: a run of a few seconds on the mixture: a short training and cheap metrics.
QUICK = [
    "train.steps=40",
    "train.log_every=20",
    "eval.num_samples=300",
    "eval.batch_size=300",
    "eval.metrics=[w2, {name: score_error, num_points: 256}, {name: nll, steps: 4, num_points: 64}]",
    "train.precision=fp32",
]


def blue_pixels(picture: np.ndarray) -> int:
    """Pixels of the samples' colour in an (H, W, 3) uint8 picture."""
    return int(np.all(picture == np.array(visuals.BLUE, dtype=np.uint8), axis=-1).sum())


def test_scatter_puts_points_where_they_are_and_skips_those_outside():
    points = torch.tensor([[0.0, 0.0], [5.0, 5.0]])
    picture = (visuals.scatter([(points, visuals.BLUE)], (-1.0, 1.0)) * 255).round().byte().permute(1, 2, 0).numpy()
    centre = visuals.SIDE // 2
    assert tuple(picture[centre, centre]) == visuals.BLUE
    assert blue_pixels(picture) == 9  # one 3x3 marker: the point at (5, 5) lies outside the view
    data = PointData(torch.tensor([[-1.0, -1.0], [1.0, 1.0]]))
    shown = visuals.Pictures(data).shown(torch.tensor([[0.0, 0.0], [9.0, 9.0]]))
    assert shown.shape == (1, 3, visuals.SIDE, visuals.SIDE) and 0 <= float(shown.min()) <= float(shown.max()) <= 1


def test_a_point_run_trains_scores_shows_scatter_plots_and_samples_points(tmp_path: Path):
    run_dir = tmp_path / "run"
    run_cli("train", str(REPO / "configs" / "data_2d.yaml"), *QUICK, f"run.dir={run_dir}")
    metrics = json.loads((run_dir / "metrics.json").read_text())
    for key in ("eval/w2", "eval/score_error", "eval/nll"):
        assert math.isfinite(metrics[key]), key
    assert metrics["eval/w2"] > 0 and metrics["eval/score_error"] > 0  # 40 steps: far from the data yet
    [png] = (run_dir / "samples").glob("*.png")
    assert Image.open(png).size == (visuals.SIDE, visuals.SIDE)
    assert blue_pixels(np.asarray(Image.open(png).convert("RGB"))) > 100
    acc = EventAccumulator(str(run_dir), size_guidance={"images": 0})
    acc.Reload()
    [samples] = acc.Images("samples")
    picture = np.asarray(Image.open(io.BytesIO(samples.encoded_image_string)).convert("RGB"))
    assert samples.width >= visuals.SIDE and blue_pixels(picture) > 100  # the scatter plot, not a grid of tiles
    [strip] = acc.Images("forward_process")
    assert strip.width > 4 * (visuals.SIDE // 2)  # the panels of the forward process side by side
    run_cli("sample", str(run_dir), "--num", "50", "--out", str(tmp_path / "points.npz"))
    with np.load(tmp_path / "points.npz") as f:
        assert f["arr_0"].shape == (50, 2) and f["arr_0"].dtype == np.float32
    run_cli("sample", str(run_dir), "--num", "50", "--out", str(tmp_path / "points.png"))
    assert Image.open(tmp_path / "points.png").size == (visuals.SIDE, visuals.SIDE)


def test_the_exact_sweep_pairs_each_process_with_its_sampler_over_three_seeds():
    sweep = load_sweep(REPO / "configs" / "sweeps" / "exact_2d.yaml")
    assert len(sweep.runs) == 12 and {r.values["seed"] for r in sweep.runs} == {0, 1, 2}
    assert {r.values["variant"] for r in sweep.runs} == {"ddpm_ddim", "edm_heun", "flow_euler", "flow_dpm"}


@pytest.mark.long  # 12 runs in the sweep's process (the inline launcher)
def test_the_exact_2d_sweep_runs_end_to_end_and_compares(tmp_path: Path):
    out = tmp_path / "exact_2d"
    run_cli("sweep", str(REPO / "configs" / "sweeps" / "exact_2d.yaml"), "--dir", str(out), timeout=1800)
    summary = json.loads((out / "sweep.json").read_text())
    runs = summary["runs"]
    assert len(runs) == 12 and all(r["status"] == "completed" for r in runs)
    table = run_cli("compare", str(out)).stdout
    for name in ("linear", "edm", "rectified_flow", "heun", "dpm_solver_pp", "eval/w2", "eval/nll", "eval/score_error"):
        assert name in table, name
    assert table.count("(3)") >= 4 * 3  # four arms, each metric over its three seeds
