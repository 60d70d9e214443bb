"""What the submitit launcher learns from SLURM without a cluster: fake ``sacct`` and
``squeue`` on the PATH. sacct first, squeue for what it cannot say, and every job taken
for running when neither answers; a job that ended without a result is reported failed
with SLURM's state; sbatch refusals become one line naming the cause."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from types import SimpleNamespace

import pytest

pytest.importorskip("submitit")

from diffkit.sweep.job import RunJob  # noqa: E402
from diffkit_builtin.launchers import slurm_state, slurm_watch  # noqa: E402
from diffkit_builtin.launchers.slurm import SubmititLauncher  # noqa: E402


def fake(bin_dir: Path, name: str, output: str, code: int = 0) -> None:
    path = bin_dir / name
    path.write_text(f"#!/bin/sh\nprintf '%s' '{output}'\nexit {code}\n")
    path.chmod(path.stat().st_mode | stat.S_IEXEC)


@pytest.fixture
def bin_dir(tmp_path, monkeypatch) -> Path:
    d = tmp_path / "bin"
    d.mkdir()
    monkeypatch.setenv("PATH", f"{d}{os.pathsep}/bin")  # no real SLURM tools
    return d


def test_squeue_answers_what_sacct_cannot(bin_dir):
    fake(bin_dir, "sacct", "Slurm accounting storage is disabled\n", code=1)
    fake(bin_dir, "squeue", "5_0|RUNNING\n5_1|COMPLETED\n9|PENDING\n")
    assert slurm_state.states(["5_0", "5_1", "6"]) == {"5_0": "RUNNING", "5_1": "COMPLETED", "6": "GONE"}
    assert SubmititLauncher(cluster="slurm").active(["5_0", "5_1", "6", "9"]) == {"5_0", "9"}


def test_sacct_is_asked_first(bin_dir):
    fake(bin_dir, "sacct", "7|CANCELLED by 0\n8|RUNNING\n")
    fake(bin_dir, "squeue", "", code=1)
    assert slurm_state.states(["7", "8"]) == {"7": "CANCELLED", "8": "RUNNING"}
    assert SubmititLauncher(cluster="slurm").active(["7", "8"]) == {"8"}


def test_when_neither_answers_every_job_is_taken_for_running(bin_dir):
    fake(bin_dir, "sacct", "", code=1)
    fake(bin_dir, "squeue", "slurm_load_jobs error: Unable to contact slurm controller", code=1)
    assert slurm_state.states(["1", "2"]) is None
    assert SubmititLauncher(cluster="slurm").active(["1", "2"]) == {"1", "2"}  # never move a live run aside


class Book:
    def __init__(self) -> None:
        self.events: list[tuple] = []

    def queued(self, job, job_id=""):
        self.events.append(("queued", job.name))

    def running(self, job, job_id=""):
        self.events.append(("running", job.name))

    def ended(self, job, code, error=""):
        self.events.append(("ended", job.name, code, error))


def test_a_job_that_ended_without_a_result_is_failed_with_its_slurm_state(bin_dir, tmp_path, monkeypatch):
    monkeypatch.setattr(slurm_watch, "RESULT_GRACE_S", 0.0)
    log = tmp_path / "logs" / "a.log"
    log.parent.mkdir()
    log.write_text("$ diffkit train old\ndiffkit: error: an old attempt\n$ diffkit train x\nstep 2\n")
    job = RunJob("a", tmp_path / "a", log, [], [])
    sj = SimpleNamespace(job_id="5_0", paths=SimpleNamespace(result_pickle=tmp_path / "none.pkl"))
    book = Book()
    fake(bin_dir, "sacct", "", code=1)
    fake(bin_dir, "squeue", "5_0|RUNNING\n")
    watch = slurm_watch.Watch("slurm", [job], [sj], book)
    assert watch.poll() and book.events == [("running", "a")]
    fake(bin_dir, "squeue", "5_0|FAILED\n")
    assert not watch.poll()
    assert book.events[-1] == ("ended", "a", 1, "submitit job 5_0 ended without a result (SLURM: FAILED)")


def test_the_run_logs_error_line_comes_before_submitits():
    text = "submitit INFO (2026) - Loading pickle: /x/55_submitted.pkl\n"
    job = RunJob("a", Path("/nonexistent"), Path("/nonexistent/a.log"), [], [])
    assert slurm_watch.run_error(job) == ""
    tb = (
        'Traceback (most recent call last):\n  File "x"\nsubmitit.core.utils.UncompletedJobError: Job not requeued because: timed-out too many times.\n'
        + text
    )
    assert slurm_watch.exception_line(tb).endswith("Job not requeued because: timed-out too many times.")


@pytest.mark.parametrize(
    "said, gpus, expected",
    [
        (
            "sbatch: error: Batch job submission failed: Invalid generic resource (gres) specification",
            1,
            "sbatch refused the jobs: Batch job submission failed: Invalid generic resource (gres) specification; "
            "launcher.gpus_per_node=1 asks for GPUs: set launcher.gpus_per_node=0 on a cluster without GPUs",
        ),
        (
            "sbatch: error: Batch job submission failed: Unable to contact slurm controller (connect failure)",
            0,
            "Unable to contact slurm controller (connect failure); is SLURM running here (sinfo)?",
        ),
    ],
)
def test_an_sbatch_refusal_is_one_line_naming_the_cause(said, gpus, expected):
    line = slurm_watch.submission_error(RuntimeError(f"Command failed\n{said}\n"), gpus)
    assert expected in line and "\n" not in line
