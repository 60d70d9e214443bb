"""Every bad input gets one line on stderr naming the key, the value and what is
allowed, exit code 2 and no traceback, through the ``diffkit`` entry point."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import TINY, run_cli
from tests.test_checkpoint_cli import cli

BAD_OVERRIDES = [
    # unknown keys, with the closest names
    (["train.stepz=5"], ["unknown key 'train.stepz'", "did you mean 'train.steps'"]),
    (["scheduler.betastart=0.1"], ["scheduler.betastart", "has no parameter 'betastart'", "beta_start"]),
    # wrong types
    (["train.steps=abc"], ["train.steps='abc' is not allowed; use null or an integer"]),
    (["optim.lr=fast"], ["optim.lr='fast' is not allowed; use a number"]),
    (["data.batch_size=big"], ["data.batch_size='big'", "int"]),
    (["optim.betas=0.9"], ["optim.betas=0.9 is not allowed; use a list of numbers"]),
    (["train=5"], ["train=5 is not allowed; train is a section"]),
    (["scheduler.beta_start=low"], ["scheduler.beta_start='low' is not allowed; use a number"]),
    (["denoiser.channels=8"], ["denoiser.channels=8 is not allowed; use a list of integers"]),
    (["sampler.steps=few"], ["sampler.steps='few' is not allowed; use null or an integer"]),
    # out-of-range values
    (["scheduler.beta_start=0"], ["scheduler.beta_start=0", "(0, 1)"]),
    (["scheduler.beta_end=1.5"], ["scheduler.beta_end=1.5", "(0, 1)"]),
    (
        ["scheduler.beta_start=0.02", "scheduler.beta_end=0.01"],
        ["scheduler.beta_end=0.01 must be >= scheduler.beta_start=0.02"],
    ),
    (["scheduler.num_timesteps=0"], ["scheduler.num_timesteps=0 must be an integer >= 1"]),
    (["data.batch_size=0"], ["data.batch_size=0 is not allowed; use an integer >= 1"]),
    (["optim.lr=0"], ["optim.lr=0.0 is not allowed; use a finite number > 0"]),
    (["optim.lr=-0.1"], ["optim.lr=-0.1 is not allowed; use a finite number > 0"]),
    (["optim.lr=.inf"], ["optim.lr=inf is not allowed; use a finite number > 0"]),
    (["optim.betas=[0.9,1.0]"], ["optim.betas=[0.9, 1.0] is not allowed; use two numbers in [0, 1)"]),
    (["seed=-1"], ["seed=-1 is not allowed; use an integer in [0, 2**32)"]),
    (
        ["data.image_size=10", "denoiser.channels=[8,16,32]"],
        ["data.image_size=10 does not suit denoiser 'unet'", "need a multiple of 4"],
    ),
    # unknown component names, with the closest names
    (["scheduler.name=linaer"], ["unknown scheduler 'linaer'", "did you mean 'linear'"]),
    (["loss.name=l11"], ["unknown loss 'l11'", "did you mean 'l1'"]),
    # missing dataset files: the path tried and how to get the data
    (
        ["data.name=fashion_mnist", "data.root=/nonexistent/fmnist"],
        ["train-images-idx3-ubyte[.gz] not found in /nonexistent/fmnist", "apt-get install"],
    ),
]


def _error_line(result) -> str:
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.strip().splitlines() if not line.startswith("diffkit: note:")]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert lines[0].startswith("diffkit: error: ")
    return lines[0]


@pytest.mark.parametrize("overrides, expected", BAD_OVERRIDES, ids=[" ".join(o) for o, _ in BAD_OVERRIDES])
def test_bad_value_is_one_line_naming_key_value_and_what_is_allowed(
    tmp_path: Path, capsys, overrides: list[str], expected: list[str]
) -> None:
    line = _error_line(cli(capsys, "train", *TINY, "train.steps=1", f"run.dir={tmp_path / 'run'}", *overrides))
    for text in expected:
        assert text in line, line
    assert not (tmp_path / "run").exists() or not any((tmp_path / "run" / "checkpoints").glob("*"))


def test_missing_config_file(tmp_path: Path, capsys) -> None:
    line = _error_line(cli(capsys, "train", str(tmp_path / "nothere.yaml")))
    assert line == f"diffkit: error: config file not found: {tmp_path / 'nothere.yaml'}"


def test_malformed_config_file_names_file_and_line(tmp_path: Path, capsys) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("train:\n  steps: 10\n  log_every: [1, 2\nseed: 0\n")
    line = _error_line(cli(capsys, "train", str(path)))
    assert line.startswith(f"diffkit: error: {path}:4:")
    assert "malformed YAML" in line


def test_wrong_type_in_a_config_file_names_the_file(tmp_path: Path, capsys) -> None:
    path = tmp_path / "typo.yaml"
    path.write_text("train:\n  steps: many\n")
    line = _error_line(cli(capsys, "config", str(path)))
    assert line == f"diffkit: error: train.steps='many' is not allowed; use null or an integer ({path})"


def test_a_subprocess_gets_the_same_one_line_error(tmp_path: Path) -> None:
    proc = run_cli("config", "scheduler.name=cosin", "optim.lr=0", check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip() == "diffkit: error: optim.lr=0.0 is not allowed; use a finite number > 0 (command line)"
