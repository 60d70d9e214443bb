"""The ``inline`` launcher: the runs of a sweep trained in the sweep's own process, one after
another, or in long-lived worker processes (``jobs``); a failing run is reported and the next
starts, an interrupted one stops the sweep."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from diffkit.cli.main import main
from diffkit_builtin.launchers.inline import InlineLauncher
from tests.conftest import REPO


class FakeJob:
    """Picklable, so the workers of ``jobs > 1`` can run it; `outcome` "die" ends the worker's
    process as a segfault would, without unwinding, "slow" takes 0.3 s; `marks` records which process ran it."""

    def __init__(self, name: str, outcome: int | Exception | str, marks: Path | None = None) -> None:
        self.name, self.outcome, self.ran, self.marks = name, outcome, False, marks

    def run_here(self, main_process: bool = True) -> int:
        self.ran = True
        if self.marks is not None:
            (self.marks / self.name).write_text(str(os.getpid()))
        if self.outcome == "die":
            os._exit(139)
        if self.outcome == "slow":
            time.sleep(0.3)
            return 0
        if isinstance(self.outcome, Exception):
            raise self.outcome
        return int(self.outcome)


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


def test_workers_run_every_job_once_and_report_each_end_once(tmp_path: Path):
    jobs = [
        FakeJob("a", 0, tmp_path),
        FakeJob("b", RuntimeError("bad plugin"), tmp_path),
        FakeJob("c", "die", tmp_path),
        FakeJob("d", 1, tmp_path),
        FakeJob("e", 0, tmp_path),
    ]
    report = Report()
    InlineLauncher(jobs=2).launch(jobs, report)  # type: ignore[arg-type]
    assert sorted(report.started) == ["a", "b", "c", "d", "e"]
    assert sorted(report.ends) == [
        ("a", 0, ""),
        ("b", 1, "RuntimeError: bad plugin"),
        ("c", 1, "its worker process died (exit code 139)"),  # only its own run fails
        ("d", 1, ""),
        ("e", 0, ""),
    ]
    pids = {p.read_text() for p in tmp_path.iterdir()}
    assert str(os.getpid()) not in pids and 2 <= len(pids) <= 3  # two workers, and one that replaced c's


def test_with_workers_an_interrupted_run_ends_the_sweep_and_no_more_start(tmp_path: Path):
    jobs = [FakeJob("a", 130, tmp_path), *(FakeJob(f"b{i}", "slow", tmp_path) for i in range(6))]
    report = Report()
    with pytest.raises(KeyboardInterrupt):
        InlineLauncher(jobs=2).launch(jobs, report)  # type: ignore[arg-type]
    assert ("a", 130, "") in report.ends and len(report.ends) == len(report.started) < len(jobs)


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
    assert main(["sweep", str(sweep), "--launcher", "tally", "--jobs", "2"]) == 2
    assert "--jobs is for the local and inline launchers" in capsys.readouterr().err


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
