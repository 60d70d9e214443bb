"""The ``inline`` launcher: every run trained in the sweep's own process, one after another."""

from __future__ import annotations

import signal
import sys
from collections.abc import Sequence

from diffkit.failure import describe
from diffkit.interfaces.launcher import Job, Launcher, Report
from diffkit.runner import stop


class InlineLauncher(Launcher):
    """Trains the runs one after another in this process (``job.run_here()``), so no run pays
    for starting Python and importing torch: for sweeps of runs that take seconds, such as the
    exact tier's (``configs/sweeps/exact_2d.yaml``), where that start-up is most of the time.

    A run that fails is reported and the next one starts; an error that is not a run's (e.g. a
    bug in a plugin) is written to the run's log with its traceback. What the local launcher's
    processes give and this one does not: a crash of the interpreter (a segfault, running out
    of memory) ends the sweep, and runs share the process's thread pool and imported modules.
    Ctrl-C or SIGTERM during a run: the run saves a checkpoint and stops, and no more start.
    A failed run is launched again up to `retries` times."""

    def __init__(self, retries: int = 0) -> None:
        if retries < 0:
            raise ValueError(f"need retries >= 0, got retries={retries}")
        self.retries = retries

    def launch(self, jobs: Sequence[Job], report: Report) -> None:
        with stop.sigterm_unwinds():
            for job in jobs:
                report.running(job)
                try:
                    code = job.run_here()
                except Exception as e:  # run_here wrote the traceback to the run's log
                    line = (describe(e) or (f"{type(e).__name__}: {e}", 1))[0]
                    report.ended(job, 1, error=line)
                    continue
                report.ended(job, code)
                if code in (128 + signal.SIGINT, 128 + signal.SIGTERM):
                    print(f"diffkit sweep: {job.name} was interrupted; no more runs start", file=sys.stderr)
                    raise stop.Terminated() if code == 128 + signal.SIGTERM else KeyboardInterrupt()
