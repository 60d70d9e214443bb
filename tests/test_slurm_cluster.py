"""The submitit launcher on a real SLURM cluster (``.ci/slurm-up.sh`` starts a one-node
one without accounting, so ``sacct`` never answers): a sweep completes, a SIGUSR2
pre-emption is requeued and resumes bit-exactly, ``scancel`` ends a run interrupted and
not requeued, a signal during start-up requeues, a killed job is recorded failed in
bounded time, and a re-run while jobs run is refused without moving anything.

SLURM holds a requeued job for 120 s; the tests release it at once
(``scontrol update StartTime=now``) to stay short."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO, cli_env
from tests.test_sweep_launchers import OVERRIDES, equal, summary, weights

pytestmark = [pytest.mark.slurm, pytest.mark.slow]
STATUS_FILE = Path(os.environ.get("DIFFKIT_SLURM_STATUS", "/tmp/diffkit-slurm-status"))


def _unavailable() -> str:
    """Why no SLURM cluster takes jobs here (empty when one does)."""
    if shutil.which("sbatch") is None or shutil.which("squeue") is None:
        return "SLURM is not installed (run .ci/slurm-up.sh)"
    try:
        ping = subprocess.run(["scontrol", "ping"], capture_output=True, text=True, timeout=10).stdout
        nodes = subprocess.run(["sinfo", "-h", "-N", "-o", "%T"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError) as e:
        return f"scontrol/sinfo do not answer: {e}"
    if "UP" not in ping or not any(s.startswith(("idle", "mixed", "alloc")) for s in nodes.split()):
        said = STATUS_FILE.read_text().strip() if STATUS_FILE.exists() else "run .ci/slurm-up.sh"
        return f"no SLURM cluster takes jobs here ({said})"
    return ""


pytest.importorskip("submitit")
_REASON = _unavailable()
if _REASON:  # one skip line for the whole tier
    pytest.skip(_REASON, allow_module_level=True)


def write(root: Path, grid: dict, **launcher) -> Path:
    path = root / "abl.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "base": str(REPO / "configs/default.yaml"),
                "overrides": OVERRIDES,
                "grid": grid,
                "dir": str(root / "out"),
                "launcher": {
                    "name": "submitit",
                    "cluster": "slurm",
                    "gpus_per_node": 0,
                    "time": 10,
                    "signal_delay_s": 30,
                    "poll_s": 0.5,
                    **launcher,
                },
            }
        )
    )
    return path


def sweep(path: Path, **env: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "diffkit", "sweep", str(path), "-p", "tests.sweep_plugin"],
        env=cli_env(PYTHONPATH=str(REPO), **env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(check, what: str, timeout: float = 180):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def job_id(out: Path, run: str) -> str:
    def recorded():
        try:
            return summary(out)[run]["job_id"]
        except (OSError, KeyError, ValueError):
            return ""

    return wait_for(recorded, f"the job id of {run}")


def slurm(*argv: str) -> str:
    return subprocess.run(list(argv), capture_output=True, text=True, timeout=30).stdout


def squeue_state(job: str) -> str:
    rows = dict(ln.split("|", 1) for ln in slurm("squeue", "-h", "-a", "-r", "-t", "all", "-o", "%i|%T").split())
    return rows.get(job, "GONE")


def release_when_requeued(job: str, proc: subprocess.Popen) -> int:
    """Start `job` at once when SLURM holds it after a requeue; return how many times it was released."""
    released = 0
    while proc.poll() is None:
        if "Reason=BeginTime" in slurm("scontrol", "show", "job", job):
            slurm("scontrol", "update", f"JobId={job}", "StartTime=now")
            released += 1
        time.sleep(0.3)
    return released


def finish(proc: subprocess.Popen, timeout: float = 240) -> tuple[int, str]:
    _, err = proc.communicate(timeout=timeout)
    return proc.returncode, err


def attempts(out: Path, run: str) -> list[str]:
    return [ln for ln in (out / "logs" / f"{run}.log").read_text().splitlines() if ln.startswith("$ ")]


def test_a_sweep_completes_and_a_usr2_preemption_resumes_bit_exactly(tmp_path):
    path = write(tmp_path, {"run.keep_checkpoints": [2, 3]})
    out, runs = tmp_path / "out", ["keep_checkpoints2", "keep_checkpoints3"]
    proc = sweep(path, DIFFKIT_TEST_PAUSE=f"{tmp_path / 'paused'}:{runs[1]}:step")
    job = job_id(out, runs[1])
    wait_for((tmp_path / "paused").exists, "the run to reach step 2")
    slurm("scancel", "--signal=USR2", job)  # what SLURM sends signal_delay_s before a time limit
    assert release_when_requeued(job, proc) >= 1
    code, err = finish(proc)
    assert code == 0, err
    result = summary(out)
    assert {r: result[r]["status"] for r in runs} == {r: "completed" for r in runs}
    assert [("--resume" in a) for a in attempts(out, runs[1])] == [False, True]
    assert equal(weights(out / runs[1]), weights(out / runs[0]))  # bit-exact after the requeue
    assert result[runs[1]]["job_id"] == job and result[runs[1]]["attempts"] == 1


def test_scancel_ends_a_run_interrupted_and_resumable_without_requeueing_it(tmp_path):
    path = write(tmp_path, {"seed": [0]})
    out = tmp_path / "out"
    dry = subprocess.run(
        [sys.executable, "-m", "diffkit", "sweep", str(path), "--dry-run"],
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    proc = sweep(path, DIFFKIT_TEST_PAUSE=f"{tmp_path / 'paused'}:s0:step")
    job = job_id(out, "s0")
    wait_for((tmp_path / "paused").exists, "the run to reach step 2")
    slurm("scancel", job)
    code, err = finish(proc, timeout=120)
    assert code == 1 and "diffkit sweep: interrupted s0" in err, err
    status = json.loads((out / "s0" / "status.json").read_text())
    assert status["status"] == "interrupted" and status["signal"] == signal.SIGTERM
    assert (out / "s0" / "checkpoints" / "step_0000003.pt").exists()  # saved: --resume continues
    assert summary(out)["s0"]["status"] == "interrupted"
    assert squeue_state(job) == "CANCELLED" and len(attempts(out, "s0")) == 1  # not requeued
    submitted = (out / "submitit" / f"{job}_submission.sh").read_text()
    assert submitted.strip() in dry.stdout, dry.stdout  # --dry-run shows the plain job submitted


def test_a_signal_during_start_up_requeues_the_job(tmp_path):
    path = write(tmp_path, {"seed": [0]})
    out = tmp_path / "out"
    proc = sweep(path, DIFFKIT_TEST_PAUSE=f"{tmp_path / 'paused'}:s0:start")
    job = job_id(out, "s0")
    wait_for((tmp_path / "paused").exists, "the run to start")
    slurm("scancel", "--signal=USR2", job)
    assert release_when_requeued(job, proc) >= 1
    code, err = finish(proc)
    assert code == 0, err
    assert summary(out)["s0"]["status"] == "completed"
    assert len(attempts(out, "s0")) == 2


def test_a_rerun_while_jobs_run_is_refused_and_a_killed_job_is_recorded_failed(tmp_path):
    path = write(tmp_path, {"seed": [0]})
    out, run = tmp_path / "out", tmp_path / "out" / "s0"
    proc = sweep(path, DIFFKIT_TEST_PAUSE=f"{tmp_path / 'paused'}:s0:step")
    job = job_id(out, "s0")
    wait_for((tmp_path / "paused").exists, "the run to reach step 2")
    before = sorted(p.name for p in run.iterdir())
    again = subprocess.run(
        [sys.executable, "-m", "diffkit", "sweep", str(path)],
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert again.returncode == 2 and len(again.stderr.strip().splitlines()) == 1, again.stderr
    assert f"s0 (job {job})" in again.stderr and "still queued or running" in again.stderr
    assert sorted(p.name for p in run.iterdir()) == before and not list(out.glob("s0.discarded-*"))
    pid = json.loads((run / ".lock").read_text())["pid"]
    os.kill(pid, signal.SIGKILL)  # the task dies outside diffkit: no status, no result
    killed = time.monotonic()
    code, err = finish(proc, timeout=120)
    assert time.monotonic() - killed < 60
    assert code == 1
    result = summary(out)["s0"]
    assert result["status"] == "failed" and "(SLURM: FAILED)" in result["error"], result
    assert len(err.strip().splitlines()) < 8, err
