"""The Python API (``diffkit.train``, ``resume``, ``open_run``, ``compose``) in one process,
and that the command line, a sweep's in-process job and the API train the same weights."""

from __future__ import annotations

import random
import signal
from pathlib import Path

import numpy as np
import pytest
import torch

import diffkit
from diffkit import checkpoint as ckpt
from diffkit.cli.main import main
from diffkit.runner import rundir
from diffkit.sweep.job import RunJob
from tests.conftest import TINY, error_lines


def weights(run_dir: Path) -> dict[str, torch.Tensor]:
    state = ckpt.load(ckpt.latest(run_dir / rundir.CHECKPOINTS))
    return {
        **{f"model.{k}": v for k, v in state["model"].items()},
        **{f"ema.{k}": v for k, v in (state["ema"] or {"model": {}})["model"].items()},
    }


def assert_same_weights(a: Path, b: Path) -> None:
    wa, wb = weights(a), weights(b)
    assert wa.keys() == wb.keys() and wa
    different = [k for k in wa if not torch.equal(wa[k], wb[k])]
    assert not different, f"{a} and {b} differ in {different[:3]}"


def test_train_sample_evaluate_resume_in_one_process(tmp_path: Path) -> None:
    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    torch.manual_seed(123)
    rng_before = torch.get_rng_state()
    py_before = random.getstate()
    np_before = np.random.get_state()[1].copy()

    run = diffkit.train(None, TINY, run_dir=tmp_path / "run")

    assert run.status == "completed" and run.dir == tmp_path / "run"
    assert run.metrics["step"] == 6.0
    # no global state left behind
    assert {s: signal.getsignal(s) for s in handlers} == handlers
    assert torch.equal(torch.get_rng_state(), rng_before)
    assert random.getstate() == py_before and np.array_equal(np.random.get_state()[1], np_before)
    assert not torch.are_deterministic_algorithms_enabled()

    images = diffkit.open_run(run.dir).sample(8, seed=3)
    assert images.shape == (8, 1, 8, 8) and images.dtype == torch.float32
    assert images.min() >= -1 and images.max() <= 1
    assert torch.equal(images, run.sample(8, seed=3))  # the same seed, the same images
    assert not torch.equal(images, run.sample(8, seed=4))
    parts = run.components
    assert parts.process is parts.scheduler and parts.sampler is not None
    assert run.sample(2, sampler="ddim", steps=3).shape == (2, 1, 8, 8)

    scores = run.evaluate(["fid"], num=16, repeats=2)
    assert scores["eval/repeats"] == 2 and scores["eval/fid"] > 0 and "eval/fid_std" in scores
    assert diffkit.open_run(run.dir).metrics["eval/fid"] == scores["eval/fid"]

    resumed = diffkit.resume(run.dir, ["train.steps=9"])
    assert resumed.status == "completed" and resumed.step == 9 and resumed.metrics["step"] == 9.0


def test_cli_sweep_job_and_api_train_bit_identical_weights(tmp_path: Path) -> None:
    overrides = [*TINY, "seed=7", "ema.decay=0.9"]
    api_run = diffkit.train(None, overrides, run_dir=tmp_path / "api").dir
    assert main(["train", *overrides, f"run.dir={tmp_path / 'cli'}"]) == 0
    job = RunJob(name="job", dir=tmp_path / "job", log=tmp_path / "job.log", overrides=overrides)
    assert job.run_here() == 0 and job.status() == "completed"
    assert_same_weights(api_run, tmp_path / "cli")
    assert_same_weights(api_run, tmp_path / "job")
    # the comparison can fail: another seed trains other weights
    other = diffkit.train(None, [*TINY, "seed=8", "ema.decay=0.9"], run_dir=tmp_path / "other").dir
    with pytest.raises(AssertionError, match="differ"):
        assert_same_weights(api_run, other)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return diffkit.train(None, TINY, run_dir=tmp_path_factory.mktemp("api") / "run").dir


def test_errors_are_diffkit_errors_not_exits(tmp_path: Path, trained: Path) -> None:
    with pytest.raises(diffkit.ConfigError, match="optim.lrr"):
        diffkit.compose(None, ["optim.lrr=1"])
    with pytest.raises(diffkit.ConfigError, match="run directory not found"):
        diffkit.open_run(tmp_path / "missing")
    with pytest.raises(diffkit.ConfigError, match="already exists"):
        diffkit.train(None, TINY, run_dir=trained)
    with pytest.raises(diffkit.ConfigError, match="--num 0"):
        diffkit.open_run(trained).sample(0)


def test_meaning_changing_overrides_are_refused_for_sample_and_eval(
    trained: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = (trained / rundir.METRICS).read_bytes()
    for argv in (
        ["eval", str(trained), "scheduler.num_timesteps=20", "--num", "8", "--metric", "fid"],
        ["sample", str(trained), "data.image_size=16", "--num", "2", "--out", str(tmp_path / "x.png")],
    ):
        assert main(argv) == 2
        lines = error_lines(capsys.readouterr().err)
        assert len(lines) == 1 and "changes what its checkpoint means" in lines[0] and "--allow-changes" in lines[0]
    assert not (tmp_path / "x.png").exists()
    # an override equal to the trained value is no change
    assert diffkit.open_run(trained, ["scheduler.num_timesteps=50"]).changes_meaning is False
    # allowed: scored, printed, but never stored over the run's own metrics
    assert (
        main(["eval", str(trained), "scheduler.num_timesteps=20", "--allow-changes", "--num", "8", "--metric", "fid"])
        == 0
    )
    assert "are not stored" in capsys.readouterr().err
    assert (trained / rundir.METRICS).read_bytes() == before


def test_run_config_yaml_is_the_one_source_of_truth(
    trained: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The run's config.yaml chooses the components; the checkpoint only gives weights."""
    copy = tmp_path / "copy"
    copy.mkdir()
    for item in trained.iterdir():
        if item.is_dir():
            (copy / item.name).mkdir()
            for f in item.iterdir():
                (copy / item.name / f.name).write_bytes(f.read_bytes())
        elif item.name != ".lock":
            (copy / item.name).write_bytes(item.read_bytes())
    config = copy / rundir.CONFIG
    text = config.read_text()
    # a sampler edited by hand wins, with a note naming the difference
    config.write_text(text.replace("name: ddpm", "name: ddim", 1))
    run = diffkit.open_run(copy)
    assert run.config.sampler.name == "ddim" and type(run.components.sampler).__name__ == "DDIMSampler"
    assert "differs from checkpoint" in capsys.readouterr().err
    # a key the weights' meaning depends on is refused in one line naming it and both values
    config.write_text(text.replace("num_timesteps: 50", "num_timesteps: 40", 1))
    assert main(["sample", str(copy), "--num", "2", "--out", str(tmp_path / "y.png")]) == 2
    lines = error_lines(capsys.readouterr().err)
    assert len(lines) == 1 and "scheduler.num_timesteps=40" in lines[0] and "num_timesteps=50" in lines[0]


def test_plugin_objects_are_registered_like_modules(tmp_path: Path) -> None:
    class Steps:
        def __init__(self) -> None:
            self.logged: list[int] = []

        @diffkit.hookimpl
        def diffkit_log(self, step: int) -> None:
            self.logged.append(step)

    seen = Steps()
    diffkit.train(None, TINY, run_dir=tmp_path / "run", plugins=[seen])
    assert seen.logged == [2, 4, 6]  # train.log_every=2 over 6 steps

    class Broken:
        @diffkit.hookimpl
        def diffkit_no_such_hook(self) -> None: ...

    with pytest.raises(diffkit.PluginError, match="diffkit_no_such_hook"):
        diffkit.compose(None, TINY, plugins=[Broken()])
