"""A sweep states ``budget: 2m`` once: every run trains for that budget (train.budget)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from diffkit.config import compose, validate
from diffkit.errors import ConfigError
from diffkit.sweep import load_sweep
from tests.conftest import REPO


def write(path: Path, **data) -> Path:
    path.write_text(yaml.safe_dump({"base": str(REPO / "configs/cpu/fashion_mnist_flow.yaml"), **data}))
    return path


def test_the_sweep_budget_is_every_runs_train_budget(tmp_path: Path):
    grid = {"denoiser.channels": [[16, 32], [32, 64, 64]], "seed": [0, 1]}
    sweep = load_sweep(write(tmp_path / "s.yaml", budget="2m", grid=grid, overrides={"train.progress": False}))
    assert sweep.overrides == {"train.budget": "2m", "train.progress": False}
    for run in sweep.runs:
        composed = compose(sweep.base, sweep.run_overrides(run))
        validate(composed)
        # the base file's train.steps gives way to the budget on the command line
        assert (composed.cfg.train.budget, composed.cfg.train.steps) == ("2m", None)
    varied = load_sweep(write(tmp_path / "v.yaml", budget="2m", grid={"train.budget": ["30s", "90s"]}))
    assert [compose(varied.base, varied.run_overrides(r)).cfg.train.budget for r in varied.runs] == ["30s", "90s"]


@pytest.mark.parametrize(
    "data, message",
    [
        ({"budget": "2x"}, r"s.yaml: budget='2x' is not allowed; use a duration such as 90s"),
        (
            {"budget": "2m", "overrides": {"train.budget": "3m"}},
            r"budget and overrides train.budget both set the budget",
        ),
    ],
)
def test_a_bad_sweep_budget_is_refused_naming_the_file(tmp_path: Path, data: dict, message: str):
    with pytest.raises(ConfigError, match=message):
        load_sweep(write(tmp_path / "s.yaml", grid={"seed": [0]}, **data))


def test_a_sweep_budget_with_train_steps_in_its_overrides_is_refused_when_composed(tmp_path: Path):
    sweep = load_sweep(write(tmp_path / "s.yaml", budget="2m", overrides={"train.steps": 100}, grid={"seed": [0]}))
    with pytest.raises(ConfigError, match=r"train.steps=100 and train.budget='2m' are both set \(command line\)"):
        compose(sweep.base, sweep.run_overrides(sweep.runs[0]))


@pytest.mark.long  # a whole sweep: minutes on 2 cores (python -m pytest -m long)
def test_arms_of_different_speed_train_for_the_same_budget(tmp_path: Path):
    """A 2-run sweep with `budget: 3s`: a narrow and a 4x wider U-Net each plan their own steps
    (the faster one more) and record the same budget."""
    import json

    from tests.conftest import run_cli

    overrides = {
        "data.image_size": 8,
        "data.batch_size": 16,
        "time_embedding.dim": 8,
        "scheduler.num_timesteps": 20,
        "train": {
            "progress": False,
            "sample_every": 0,
            "num_samples": 4,
            "log_every": 5,
            "checkpoint_every": 0,
            "precision": "fp32",
            "device": "cpu",
        },
    }
    path = tmp_path / "s.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "base": str(REPO / "configs/default.yaml"),
                "budget": "3s",
                "overrides": overrides,
                "grid": {"denoiser.channels": [[8, 16], [32, 64]]},
                "name": "w{denoiser.channels}",
                "dir": str(tmp_path / "out"),
            }
        )
    )
    run_cli("sweep", str(path))
    runs = json.loads((tmp_path / "out/sweep.json").read_text())["runs"]
    plans = [json.loads((Path(r["dir"]) / "status.json").read_text())["plan"] for r in runs]
    assert [p["budget"] for p in plans] == ["3s", "3s"] and all(p["steps"] == p["planned_steps"] for p in plans)
    narrow, wide = plans
    assert narrow["seconds_per_step"] < wide["seconds_per_step"] and narrow["planned_steps"] > wide["planned_steps"]
