"""A ``-p tests.sweep_plugin`` plugin for the sweep tests: a third-party launcher, and
hooks that stop a run the way a cluster or a crash would, once (a marker file says so).

DIFFKIT_TEST_PREEMPT=MARKER:RUN   the run named RUN sends itself SIGUSR2 (SLURM's
                                  pre-emption warning) after step 2 of its first attempt.
DIFFKIT_TEST_KILL=MARKER:RUN      the run named RUN SIGKILLs itself during its final
                                  evaluation (after its last checkpoint), once.
DIFFKIT_TEST_PAUSE=MARKER:RUN:AT  the run named RUN creates MARKER and waits (at most 120 s)
                                  for a stop signal at AT: ``start`` (its run_start hook,
                                  before the first step) or ``step`` (after step 2), once.

It also registers a cheap metric, ``count`` (the number of generated images).
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Sequence
from pathlib import Path

from diffkit import hookimpl
from diffkit.interfaces import Launcher, Metric, Report
from diffkit.registry import Registry


class TallyLauncher(Launcher):
    """Trains the jobs one after another in this process and counts them in `tally`."""

    def __init__(self, tally: str = "", retries: int = 0) -> None:
        self.tally, self.retries = tally, retries

    def launch(self, jobs: Sequence, report: Report) -> None:
        for job in jobs:
            report.running(job, f"tally-{job.name}")
            code = job.run_here()
            if self.tally:
                with open(self.tally, "a") as f:
                    f.write(f"{job.name} {code}\n")
            report.ended(job, code)


class Count(Metric):
    """{"count": the number of generated images}."""

    higher_is_better = True
    description = "the number of generated images"

    def compute(self, real, fake) -> dict[str, float]:
        return {"count": float(fake.shape[0])}


def _once(variable: str, run_dir: Path) -> bool:
    """True the first time the run named in `variable` asks (and creates the marker)."""
    marker, _, name = os.environ.get(variable, "").partition(":")
    name = name.split(":")[0]
    if not marker or Path(run_dir).name != name or Path(marker).exists():
        return False
    Path(marker).touch()
    return True


def _pause(run_dir: Path, at: str) -> None:
    """Wait for a stop signal (the test sends it) when DIFFKIT_TEST_PAUSE asks for it `at` here."""
    from diffkit.runner import stop

    spec = os.environ.get("DIFFKIT_TEST_PAUSE", "")
    if not spec.endswith(f":{at}") or not _once("DIFFKIT_TEST_PAUSE", run_dir):
        return
    deadline = time.monotonic() + 120
    while not stop.received and time.monotonic() < deadline:
        time.sleep(0.05)


@hookimpl
def diffkit_run_start(run) -> None:
    _pause(run.dir, "start")


@hookimpl
def diffkit_log(run, step, metrics) -> None:
    if step >= 2 and _once("DIFFKIT_TEST_PREEMPT", run.dir):
        os.kill(os.getpid(), signal.SIGUSR2)
    if step >= 2:
        _pause(run.dir, "step")


@hookimpl
def diffkit_eval(run, step, metrics) -> None:
    if _once("DIFFKIT_TEST_KILL", run.dir):
        os.kill(os.getpid(), signal.SIGKILL)


@hookimpl
def diffkit_register_components(registry: Registry) -> None:
    registry.add("launcher", "tally", TallyLauncher)
    registry.add("metric", "count", Count)
