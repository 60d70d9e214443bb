"""``train.profile=true``: a torch profiler trace of a few training steps.

The trace is written to ``RUN_DIR/profile/<host>_<pid>.<time>.pt.trace.json`` (Chrome
trace format): open it in TensorBoard's profiler (``pip install torch-tb-profiler``,
then ``tensorboard --logdir RUN_DIR/profile``), at https://ui.perfetto.dev or
chrome://tracing. The profiler library's own messages (stage markers, and on a machine
without CUDA a "gpuGetDeviceCount failed") go to ``RUN_DIR/profile/profiler.log``,
not to the terminal.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile, schedule, tensorboard_trace_handler

PROFILE_DIR = "profile"
LOG = "profiler.log"
#: steps skipped (lazy initialisation, allocator growth), warmed up, then recorded.
WAIT, WARMUP, ACTIVE = 1, 1, 3


@contextmanager
def native_stderr_to(path: Path) -> Iterator[None]:
    """Send what C++ code writes to file descriptor 2 into `path` while inside."""
    sys.stderr.flush()
    saved = os.dup(2)
    with path.open("ab") as log:
        os.dup2(log.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)


class StepProfiler:
    """Call ``step()`` after every optimizer step and ``close()`` at the end; does
    nothing when disabled. A run shorter than the schedule still writes what it recorded."""

    def __init__(self, enabled: bool, run_dir: Path, device: torch.device) -> None:
        self.prof: profile | None = None
        self.steps = 0
        if not enabled:
            return
        activities = [ProfilerActivity.CPU]
        if device.type == "cuda" and torch.cuda.is_available():
            activities.append(ProfilerActivity.CUDA)
        self.dir = Path(run_dir) / PROFILE_DIR
        self.dir.mkdir(parents=True, exist_ok=True)
        self.prof = profile(
            activities=activities,
            schedule=schedule(wait=WAIT, warmup=WARMUP, active=ACTIVE, repeat=1),
            on_trace_ready=tensorboard_trace_handler(str(self.dir)),
            record_shapes=True,
            profile_memory=True,
        )
        with native_stderr_to(self.dir / LOG):
            self.prof.start()

    def step(self) -> None:
        if self.prof is None:
            return
        with native_stderr_to(self.dir / LOG):
            self.prof.step()
        self.steps += 1
        if self.steps >= WAIT + WARMUP + ACTIVE:  # the trace is written: stop paying for the profiler
            self.close()

    def close(self) -> None:
        if self.prof is not None:
            with native_stderr_to(self.dir / LOG):
                self.prof.stop()
            self.prof = None
