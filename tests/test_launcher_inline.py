"""The ``inline`` launcher: every run of a sweep trained in the sweep's own process, one
after another; a failing run is reported and the next starts, an interrupted one stops the sweep."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml

from diffkit.cli.main import main
from diffkit_builtin.launchers.inline import InlineLauncher
from tests.conftest import REPO


class FakeJob:
    def __init__(self, name: str, outcome: int | Exception) -> None:
        self.name, self.outcome, self.ran = name, outcome, False

    def run_here(self, main_process: bool = True) -> int:
        self.ran = True
        if isinstance(self.outcome, Exception):
            raise self.outcome
        return self.outcome


class Report:
    def __init__(self) -> None:
        self.started: list[str] = []
        self.ends: list[tuple[str, int, str]] = []

    def queued(self, job, job_id: str = "") -> None: ...

    def running(self, job, job_id: str = "") -> None:
        self.started.append(job.name)

    def ended(self, job, returncode: int, error: str = "") -> None:
        self.ends.append((job.name, returncode, error))


def test_a_crashing_run_is_reported_once_and_the_next_one_starts():
    jobs = [FakeJob("a", RuntimeError("bad plugin")), FakeJob("b", 0), FakeJob("c", 1)]
    report = Report()
    InlineLauncher().launch(jobs, report)  # type: ignore[arg-type]
    assert report.started == ["a", "b", "c"]
    assert report.ends == [("a", 1, "RuntimeError: bad plugin"), ("b", 0, ""), ("c", 1, "")]


@pytest.mark.parametrize("code, raised", [(130, KeyboardInterrupt), (143, KeyboardInterrupt)])
def test_an_interrupted_run_ends_the_sweep_and_no_more_start(code, raised):
    jobs = [FakeJob("a", code), FakeJob("b", 0)]
    report = Report()
    with pytest.raises(raised) as info:
        InlineLauncher().launch(jobs, report)  # type: ignore[arg-type]
    assert report.ends == [("a", code, "")] and not jobs[1].ran
    assert getattr(info.value, "exit_code", 130) == code  # SIGTERM: 143, as diffkit.failure reports it


def test_a_sweep_with_the_inline_launcher_starts_no_training_process(tmp_path: Path, monkeypatch, capsys):
    popen = subprocess.Popen

    def no_training_process(command, *args, **kwargs):
        if "train" in command:
            raise AssertionError(f"a training process was started: {command}")
        return popen(command, *args, **kwargs)

    monkeypatch.setattr(subprocess, "Popen", no_training_process)
    sweep = tmp_path / "abl.yaml"
    tiny = {
        "data.image_size": 8,
        "data.batch_size": 16,
        "denoiser.channels": [8, 16],
        "time_embedding.dim": 8,
        "scheduler.num_timesteps": 50,
        "train": {"steps": 3, "log_every": 1, "sample_every": 0, "checkpoint_every": 3, "num_samples": 4},
        "train.progress": False,
        "train.precision": "fp32",
    }
    sweep.write_text(
        yaml.safe_dump(
            {
                "base": str(REPO / "configs/default.yaml"),
                "overrides": tiny,
                "grid": {"seed": [0, 1]},
                "dir": str(tmp_path / "out"),
                "launcher": "inline",
            }
        )
    )
    assert main(["sweep", str(sweep)]) == 0
    runs = json.loads((tmp_path / "out" / "sweep.json").read_text())["runs"]
    assert [r["status"] for r in runs] == ["completed", "completed"]
    for r in runs:
        log = (tmp_path / "out" / "logs" / f"{r['name']}.log").read_text()
        assert log.startswith("$ diffkit train ") and f"seed={r['values']['seed']}" in log.splitlines()[0]
    assert main(["sweep", str(sweep), "--jobs", "2"]) == 2  # --jobs is the local launcher's
    assert "--jobs is for the local launcher" in capsys.readouterr().err


def test_the_runs_of_a_sweep_share_one_inductor_cache_in_the_sweep_dir(tmp_path: Path, monkeypatch):
    from diffkit.sweep import load_sweep
    from diffkit.sweep.execute import make_job

    sweep_file = tmp_path / "abl.yaml"
    sweep_file.write_text(yaml.safe_dump({"grid": {"seed": [0, 1]}, "dir": str(tmp_path / "out")}))
    monkeypatch.delenv("TORCHINDUCTOR_CACHE_DIR", raising=False)
    sweep = load_sweep(sweep_file)
    caches = {make_job(sweep, spec, []).env["TORCHINDUCTOR_CACHE_DIR"] for spec in sweep.runs}
    assert caches == {str(tmp_path / "out" / "inductor_cache")}
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(tmp_path / "mine"))  # the caller's choice wins
    assert all("TORCHINDUCTOR_CACHE_DIR" not in make_job(sweep, spec, []).env for spec in sweep.runs)
