"""``train.profile=true`` writes a torch profiler trace of a few steps into the run dir."""

from __future__ import annotations

import json

import pytest
import torch

from diffkit.runner.profile import ACTIVE, PROFILE_DIR, StepProfiler
from tests.conftest import TINY, run_cli


def _events(run_dir):
    traces = sorted((run_dir / PROFILE_DIR).glob("*.pt.trace.json"))
    assert len(traces) == 1, f"expected one trace in {run_dir / PROFILE_DIR}, found {traces}"
    trace = json.loads(traces[0].read_text())
    return trace["traceEvents"]


@pytest.mark.slow
def test_profile_writes_a_chrome_trace_of_the_scheduled_steps(tmp_path):
    run_dir = tmp_path / "run"
    proc = run_cli("train", *TINY, "train.profile=true", f"run.dir={run_dir}")
    # the profiler library's messages (on a CPU-only machine a CUDA error) stay out of the terminal
    assert "ERROR" not in proc.stderr and "gpuGetDeviceCount" not in proc.stderr and "USDT" not in proc.stderr
    assert (run_dir / PROFILE_DIR / "profiler.log").is_file()
    events = _events(run_dir)
    steps = {e["name"] for e in events if e.get("name", "").startswith("ProfilerStep#")}
    assert len(steps) == ACTIVE  # only the recorded steps, after the skipped and warm-up ones
    names = {e.get("name") for e in events if e.get("ph") == "X"}
    assert "aten::convolution" in names and "Optimizer.step#Adam.step" in names
    assert any(n.startswith("autograd::engine::evaluate_function") for n in names)  # the backward pass


def test_a_run_shorter_than_the_schedule_still_writes_what_it_recorded(tmp_path):
    run_dir = tmp_path / "short"
    run_cli("train", *TINY, "train.steps=3", "train.profile=true", f"run.dir={run_dir}")
    steps = {e["name"] for e in _events(run_dir) if e.get("name", "").startswith("ProfilerStep#")}
    # step 0 is skipped, step 1 warms up, step 2 is recorded; #3 is the tail cut by the end of training
    assert "ProfilerStep#2" in steps and steps <= {"ProfilerStep#2", "ProfilerStep#3"}


def test_a_disabled_profiler_writes_nothing(tmp_path):
    profiler = StepProfiler(False, tmp_path, torch.device("cpu"))
    for _ in range(6):
        profiler.step()
    profiler.close()
    assert not (tmp_path / PROFILE_DIR).exists()
