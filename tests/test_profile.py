"""``train.profile=true`` writes a torch profiler trace of a few steps into the run dir."""

from __future__ import annotations

import json

import pytest

from diffkit.runner.profile import ACTIVE, PROFILE_DIR
from tests.conftest import TINY, run_cli


def _events(run_dir):
    traces = sorted((run_dir / PROFILE_DIR).glob("*.pt.trace.json"))
    assert len(traces) == 1, f"expected one trace in {run_dir / PROFILE_DIR}, found {traces}"
    trace = json.loads(traces[0].read_text())
    return trace["traceEvents"]


@pytest.mark.slow
def test_profile_writes_a_chrome_trace_of_the_scheduled_steps(tmp_path):
    run_dir = tmp_path / "run"
    run_cli("train", *TINY, "train.profile=true", f"run.dir={run_dir}")
    events = _events(run_dir)
    steps = {e["name"] for e in events if e.get("name", "").startswith("ProfilerStep#")}
    assert len(steps) == ACTIVE  # only the recorded steps, after the skipped and warm-up ones
    names = {e.get("name") for e in events if e.get("ph") == "X"}
    assert "aten::convolution" in names and "Optimizer.step#Adam.step" in names
    assert any(n.startswith("autograd::engine::evaluate_function") for n in names)  # the backward pass


def test_profile_is_off_by_default_and_a_short_run_still_writes_its_trace(tmp_path):
    plain = tmp_path / "plain"
    run_cli("train", *TINY, "train.steps=1", f"run.dir={plain}")
    assert not (plain / PROFILE_DIR).exists()
    short = tmp_path / "short"
    run_cli("train", *TINY, "train.steps=3", "train.profile=true", f"run.dir={short}")
    events = _events(short)  # stopped inside the recording window: what was recorded is kept
    assert {e["name"] for e in events if e.get("name", "").startswith("ProfilerStep#")} == {"ProfilerStep#2"}
