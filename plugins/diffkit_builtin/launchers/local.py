"""The default launcher: each run a ``python -m diffkit train`` subprocess on this machine."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from diffkit.interfaces.launcher import Job, Launcher, Report
from diffkit.runner import stop


class LocalLauncher(Launcher):
    """Trains `jobs` runs at once, each in its own process, so a crash takes down only its
    own run. With several jobs, the CPU threads are split between them (OMP_NUM_THREADS,
    unless set). Ctrl-C reaches the runs too, and a SIGTERM of the sweep is passed on to
    them: each saves a checkpoint and stops, and no more start. A failed run is launched again up to `retries` times."""

    def __init__(self, jobs: int = 1, retries: int = 0) -> None:
        if jobs < 1 or retries < 0:
            raise ValueError(f"need jobs >= 1 and retries >= 0, got jobs={jobs}, retries={retries}")
        self.jobs, self.retries = jobs, retries

    def launch(self, jobs: Sequence[Job], report: Report) -> None:
        stopping = threading.Event()
        running: set[subprocess.Popen] = set()
        env = child_env(self.jobs)

        def one(job: Job) -> None:
            if stopping.is_set():
                return
            command = job.command()
            job.log.parent.mkdir(parents=True, exist_ok=True)
            with open(job.log, "a") as f:
                f.write(f"$ {' '.join(command)}\n")
                f.flush()
                report.running(job)
                proc = subprocess.Popen(command, stdout=f, stderr=subprocess.STDOUT, env={**env, **job.env})
                running.add(proc)
                try:
                    proc.wait()
                finally:
                    running.discard(proc)
            report.ended(job, proc.returncode)

        pool = ThreadPoolExecutor(max_workers=self.jobs)
        try:
            for future in [pool.submit(one, job) for job in jobs]:
                future.result()
        except KeyboardInterrupt as e:  # Ctrl-C reached the runs too: they save and stop; start no more
            stopping.set()
            if isinstance(e, stop.Terminated):  # SIGTERM was sent to this process only: pass it on
                for proc in list(running):
                    proc.send_signal(signal.SIGTERM)
            pool.shutdown(wait=True, cancel_futures=True)
            raise
        finally:
            pool.shutdown(wait=True)


def child_env(jobs: int) -> dict[str, str]:
    """The environment of the runs: with several jobs, CPU threads are split between them."""
    env = dict(os.environ)
    if jobs > 1 and "OMP_NUM_THREADS" not in env:
        env["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // jobs))
    return env
