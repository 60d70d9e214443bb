"""Runs survive kills and signals, resume exactly, and never save non-finite weights."""

from __future__ import annotations

import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from diffkit import checkpoint as ckpt
from diffkit.config import compose, read_yaml
from diffkit.runner import rundir
from diffkit.runner.train import train
from tests.conftest import TINY, cli_env, run_cli

STEPS = 30
#: EMA, warm-up + cosine lr and gradient accumulation all have state that must resume;
#: checkpoints every 5 steps cut the log windows of 2 steps in the middle half the time.
RESUMABLE = [
    *TINY,
    f"train.steps={STEPS}",
    "train.checkpoint_every=5",
    "train.log_every=2",
    "train.accumulate=2",
    "train.deterministic=true",
    "train.device=cpu",
    "ema.decay=0.9",
    "optim.warmup_steps=3",
    "optim.lr_schedule=cosine",
    "run.keep_checkpoints=2",
]


def _train_in_process(plugins, overrides: list[str], resume: Path | None = None) -> Path:
    base = read_yaml(resume / rundir.CONFIG) if resume else None
    try:
        return train(compose(None, overrides, plugins.registry, base=base), plugins, resume=resume)
    finally:
        torch.use_deterministic_algorithms(False)


@pytest.fixture(scope="module")
def reference(plugins, tmp_path_factory) -> Path:
    """The uninterrupted run every interrupted one must reproduce bit for bit."""
    run_dir = tmp_path_factory.mktemp("reference") / "run"
    return _train_in_process(plugins, [*RESUMABLE, f"run.dir={run_dir}"])


def _scalars(run_dir: Path, tag: str) -> list[tuple[int, float]]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(run_dir), size_guidance={"scalars": 0})
    acc.Reload()
    return [(e.step, e.value) for e in acc.Scalars(tag)]


def assert_same_run(run_dir: Path, reference: Path) -> None:
    """Final weights, EMA, optimizer and lr schedule bitwise equal; logged curves equal."""
    got, want = ckpt.load(run_dir / "checkpoints" / "last.pt"), ckpt.load(reference / "checkpoints" / "last.pt")
    assert got["step"] == want["step"] == STEPS
    for name, tensor in want["model"].items():
        assert torch.equal(got["model"][name], tensor), name
    for name, tensor in want["ema"]["model"].items():
        assert torch.equal(got["ema"]["model"][name], tensor), f"ema {name}"
    assert got["ema"]["num_updates"] == want["ema"]["num_updates"] == STEPS
    for a, b in zip(got["optimizer"]["state"].values(), want["optimizer"]["state"].values()):
        assert all(torch.equal(a[k], b[k]) for k in b)
    assert got["lr_schedule"] == want["lr_schedule"]
    for tag in ("train/loss", "train/lr"):
        curve = _scalars(run_dir, tag)
        assert curve == _scalars(reference, tag), tag
        assert [s for s, _ in curve] == list(range(2, STEPS + 1, 2))  # every step once: no duplicates


def _start(run_dir: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "diffkit", "train", *RESUMABLE, f"run.dir={run_dir}"],
        env=cli_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for(path: Path, proc: subprocess.Popen, timeout: float = 120) -> float:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.01)
    return time.monotonic()


def _interrupt_at_random(run_dir: Path, signum: int) -> subprocess.Popen:
    """Start a run and send `signum` at a random moment between its 2nd checkpoint and
    about 3/4 of the run (timed from the pace of its first checkpoints)."""
    proc = _start(run_dir)
    first = _wait_for(run_dir / "checkpoints" / "step_0000005.pt", proc)
    second = _wait_for(run_dir / "checkpoints" / "step_0000010.pt", proc)
    per_step = (second - first) / 5
    time.sleep(random.uniform(0, per_step * (STEPS * 3 / 4 - 10)))
    proc.send_signal(signum)
    proc.wait(timeout=120)
    return proc


@pytest.mark.slow
def test_sigkill_at_a_random_moment_then_resume_equals_an_uninterrupted_run(tmp_path: Path, reference: Path) -> None:
    run_dir = tmp_path / "run"
    proc = _interrupt_at_random(run_dir, signal.SIGKILL)
    assert proc.returncode == -signal.SIGKILL
    assert rundir.read_json(run_dir / rundir.STATUS)["status"] == "running"
    killed_at = ckpt.latest(run_dir / "checkpoints")
    assert killed_at is not None and ckpt.load(killed_at)["step"] < STEPS

    resumed = run_cli("train", "--resume", str(run_dir))
    assert resumed.stdout.strip() == str(run_dir)
    assert rundir.read_json(run_dir / rundir.STATUS) == {"status": "completed", "step": STEPS}
    assert sorted(p.name for p in (run_dir / "checkpoints").glob("*.pt")) == [
        "last.pt",
        f"step_{STEPS - 5:07d}.pt",
        f"step_{STEPS:07d}.pt",
    ]
    assert_same_run(run_dir, reference)


@pytest.mark.slow
def test_sigterm_finishes_the_step_saves_and_says_how_to_resume(tmp_path: Path, plugins, reference: Path) -> None:
    run_dir = tmp_path / "run"
    proc = _interrupt_at_random(run_dir, signal.SIGTERM)
    stderr = proc.stderr.read()
    assert proc.returncode == 128 + signal.SIGTERM, stderr
    status = rundir.read_json(run_dir / rundir.STATUS)
    assert status["status"] == "interrupted" and status["signal"] == signal.SIGTERM
    stopped = status["step"]
    assert 10 <= stopped < STEPS
    assert ckpt.load(run_dir / "checkpoints" / "last.pt")["step"] == stopped  # saved at the step it stopped
    resume = f"SIGTERM received; saved step {stopped} in {run_dir}; resume with: diffkit train --resume {run_dir}"
    assert resume in stderr
    assert "Traceback" not in stderr

    _train_in_process(plugins, [], resume=run_dir)
    assert_same_run(run_dir, reference)


@pytest.mark.slow
def test_exploding_learning_rate_stops_naming_the_step_and_keeps_good_checkpoints(tmp_path: Path, plugins) -> None:
    run_dir = tmp_path / "run"
    _train_in_process(
        plugins, [*TINY, "train.steps=4", "train.checkpoint_every=2", "run.keep_checkpoints=20", f"run.dir={run_dir}"]
    )
    good = (run_dir / "checkpoints" / "step_0000004.pt").read_bytes()

    # resume with a learning rate that blows the weights up within a few steps; save every step
    proc = run_cli(
        "train",
        "--resume",
        str(run_dir),
        "optim.lr=1e30",
        "train.steps=20",
        "train.checkpoint_every=1",
        "train.log_every=10",
        check=False,
    )
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    line = proc.stderr.strip().splitlines()[-1]
    found = re.fullmatch(
        r"diffkit: error: loss or gradient became non-finite at step (\d+); stopped, the last "
        r"good checkpoint in (\S+) is intact \(.*\)",
        line,
    )
    assert found, line
    bad = int(found.group(1))
    assert 5 <= bad <= 20 and found.group(2) == str(run_dir / "checkpoints")
    assert rundir.read_json(run_dir / rundir.STATUS)["status"] == "failed"

    saved = [ckpt.load(p) for p in ckpt.numbered(run_dir / "checkpoints")]
    assert [s["step"] for s in saved] == [2, *range(4, bad)]
    for state in saved:  # nothing non-finite was ever written
        assert all(torch.isfinite(t).all() for t in state["model"].values())
    assert ckpt.load(run_dir / "checkpoints" / "last.pt")["step"] == bad - 1
    assert (run_dir / "checkpoints" / "step_0000004.pt").read_bytes() == good


def test_training_into_a_non_empty_run_dir_refuses(tmp_path: Path) -> None:
    run_dir = tmp_path / "mine"
    run_dir.mkdir()
    (run_dir / "notes.txt").write_text("my notes")
    proc = run_cli("train", *TINY, f"run.dir={run_dir}", check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        f"diffkit: error: run.dir={run_dir} already exists and is not empty; continue a run with "
        f"`diffkit train --resume {run_dir}` or choose another run.dir"
    )
    assert sorted(p.name for p in run_dir.iterdir()) == ["notes.txt"]
    assert (run_dir / "notes.txt").read_text() == "my notes"


def test_skip_mode_counts_skipped_steps_and_saves_only_finite_state(tmp_path: Path, plugins) -> None:
    run_dir = tmp_path / "run"
    _train_in_process(plugins, [*TINY, "train.steps=2", f"run.dir={run_dir}"])
    # the first step at lr=1e30 makes the weights huge; every later loss is non-finite and skipped
    _train_in_process(plugins, ["optim.lr=1e30", "train.on_nonfinite=skip", "train.steps=10"], resume=run_dir)
    assert rundir.read_json(run_dir / rundir.STATUS) == {"status": "completed", "step": 10}
    counts = [value for _, value in _scalars(run_dir, "train/skipped_steps")]
    assert counts == sorted(counts) and counts[-1] >= 5
    state = ckpt.load(run_dir / "checkpoints" / "last.pt")
    assert state["window"]["skipped"] == counts[-1]
    assert all(torch.isfinite(t).all() for t in state["model"].values())  # BatchNorm statistics included
