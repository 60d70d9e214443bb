"""``train.profile=true``: a torch profiler trace of a few training steps.

The trace is written to ``RUN_DIR/profile/<host>_<pid>.<time>.pt.trace.json`` (Chrome
trace format): open it in TensorBoard's profiler (``tensorboard --logdir RUN_DIR/profile``
with the torch-tb-profiler plugin), at https://ui.perfetto.dev or chrome://tracing.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile, schedule, tensorboard_trace_handler

PROFILE_DIR = "profile"
#: steps skipped (lazy initialisation, allocator growth), warmed up, then recorded.
WAIT, WARMUP, ACTIVE = 1, 1, 3


class StepProfiler:
    """Call ``step()`` after every optimizer step and ``close()`` at the end; does
    nothing when disabled. A run shorter than the schedule still writes what it recorded."""

    def __init__(self, enabled: bool, run_dir: Path, device: torch.device) -> None:
        self.prof: profile | None = None
        if not enabled:
            return
        activities = [ProfilerActivity.CPU]
        if device.type == "cuda":
            activities.append(ProfilerActivity.CUDA)
        self.prof = profile(
            activities=activities,
            schedule=schedule(wait=WAIT, warmup=WARMUP, active=ACTIVE, repeat=1),
            on_trace_ready=tensorboard_trace_handler(str(Path(run_dir) / PROFILE_DIR)),
            record_shapes=True,
            profile_memory=True,
        )
        self.prof.start()

    def step(self) -> None:
        if self.prof is not None:
            self.prof.step()

    def close(self) -> None:
        if self.prof is not None:
            self.prof.stop()
            self.prof = None
