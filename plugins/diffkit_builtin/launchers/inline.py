"""The ``inline`` launcher: runs trained without a new Python per run, one after another in
the sweep's own process, or in `jobs` long-lived worker processes at once."""

from __future__ import annotations

import multiprocessing as mp
import os
import queue
import signal
import sys
from collections.abc import Sequence
from typing import Any

from diffkit.failure import describe
from diffkit.interfaces.launcher import Job, Launcher, Report
from diffkit.runner import stop

INTERRUPTED = (128 + signal.SIGINT, 128 + signal.SIGTERM)


class InlineLauncher(Launcher):
    """Trains the runs without starting Python and importing torch for each (``job.run_here()``):
    for sweeps of runs that take seconds, such as the exact tier's
    (``configs/sweeps/exact_2d.yaml``), where that start-up is most of the time.

    jobs: 1 trains the runs one after another in this process; N > 1 starts N worker
    processes once and hands each the next run as it finishes one, with the CPU threads
    split between them (as the local launcher does, unless OMP_NUM_THREADS is set): small
    networks use one core almost as well as two, so two workers nearly halve a sweep.

    A run that fails is reported and the next one starts; an error that is not a run's (e.g. a
    bug in a plugin) is written to the run's log with its traceback. What the local launcher's
    processes give and this one does not: with jobs=1 a crash of the interpreter (a segfault,
    running out of memory) ends the sweep (with workers, it fails only the worker's run), and
    runs share a process's thread pool and imported modules. Ctrl-C or SIGTERM during a run:
    the run saves a checkpoint and stops, and no more start. A failed run is launched again up
    to `retries` times."""

    def __init__(self, jobs: int = 1, retries: int = 0) -> None:
        if jobs < 1 or retries < 0:
            raise ValueError(f"need jobs >= 1 and retries >= 0, got jobs={jobs}, retries={retries}")
        self.jobs, self.retries = jobs, retries

    def launch(self, jobs: Sequence[Job], report: Report) -> None:
        with stop.sigterm_unwinds():
            if self.jobs == 1 or len(jobs) == 1:
                _one_after_another(jobs, report)
            else:
                _Workers(min(self.jobs, len(jobs)), jobs, report).run()


def _one_after_another(jobs: Sequence[Job], report: Report) -> None:
    for job in jobs:
        report.running(job)
        try:
            code = job.run_here()
        except Exception as e:  # run_here wrote the traceback to the run's log
            report.ended(job, 1, error=_line(e))
            continue
        report.ended(job, code)
        if code in INTERRUPTED:
            raise _interruption(job, code)


def _line(e: BaseException) -> str:
    return (describe(e) or (f"{type(e).__name__}: {e}", 1))[0]


def _interruption(job: Job, code: int) -> BaseException:
    """Say that `job` was interrupted (exit `code`: Ctrl-C or SIGTERM); the exception that stops the sweep."""
    print(f"diffkit sweep: {job.name} was interrupted; no more runs start", file=sys.stderr)
    return stop.Terminated() if code == 128 + signal.SIGTERM else KeyboardInterrupt()


class _Workers:
    """`n` spawned worker processes (``_work``) fed one job at a time from this process:
    a worker asks ("idle"), gets the next job or None (stop), and reports ("ended", code)."""

    def __init__(self, n: int, jobs: Sequence[Job], report: Report) -> None:
        self.ctx = mp.get_context("spawn")
        self.jobs, self.report = list(jobs), report
        self.next = 0
        self.results: Any = self.ctx.Queue()
        self.threads = 0 if "OMP_NUM_THREADS" in os.environ else max(1, (os.cpu_count() or 1) // n)
        self.procs: dict[int, Any] = {}
        self.tasks: dict[int, Any] = {}
        self.holding: dict[int, int | None] = {}
        self.stopping: BaseException | None = None
        for wid in range(n):
            self._start(wid)

    def _start(self, wid: int) -> None:
        self.tasks[wid] = self.ctx.Queue()
        self.holding[wid] = None
        proc = self.ctx.Process(target=_work, args=(wid, self.tasks[wid], self.results, self.threads), daemon=True)
        proc.start()
        self.procs[wid] = proc

    def run(self) -> None:
        while any(p.is_alive() for p in self.procs.values()) or any(h is not None for h in self.holding.values()):
            try:
                message = self.results.get(timeout=0.5)
            except queue.Empty:
                self._reap()
                continue
            except KeyboardInterrupt as e:  # Ctrl-C reached the workers too: they save and stop
                self._stop(e)
                continue
            self._handle(*message)
        if self.stopping is not None:
            raise self.stopping

    def _handle(self, kind: str, wid: int, code: int = 0, error: str = "") -> None:
        if kind == "ended":
            index = self.holding[wid]
            self.holding[wid] = None
            if index is not None:
                job = self.jobs[index]
                self.report.ended(job, code, error=error)
                if code in INTERRUPTED and self.stopping is None:
                    self.stopping = _interruption(job, code)
            return
        if self.stopping is None and self.next < len(self.jobs):  # kind == "idle"
            self.holding[wid] = self.next
            self.report.running(self.jobs[self.next])
            self.tasks[wid].put(self.jobs[self.next])
            self.next += 1
        else:
            self.tasks[wid].put(None)

    def _reap(self) -> None:
        """A worker that died holding a job (a segfault, the OOM killer): that run failed; a
        new worker takes over the runs not yet started."""
        for wid, proc in list(self.procs.items()):
            if proc.is_alive() or proc.exitcode is None:
                continue
            index, self.holding[wid] = self.holding[wid], None
            if index is not None:
                self.report.ended(self.jobs[index], 1, error=f"its worker process died (exit code {proc.exitcode})")
            if self.stopping is None and self.next < len(self.jobs):
                self._start(wid)

    def _stop(self, e: BaseException) -> None:
        if self.stopping is not None:
            raise e  # a second Ctrl-C: stop waiting for the runs to save
        self.stopping = e
        if isinstance(e, stop.Terminated):  # SIGTERM was sent to this process only: pass it on
            for proc in self.procs.values():
                if proc.is_alive() and proc.pid:
                    os.kill(proc.pid, signal.SIGTERM)


def _work(wid: int, tasks: Any, results: Any, threads: int) -> None:
    """A worker process: train the jobs `tasks` hands it until it hands None."""
    try:
        import torch

        if threads:
            torch.set_num_threads(threads)
        while True:
            results.put(("idle", wid))
            job = tasks.get()
            if job is None:
                return
            try:
                code, error = job.run_here(), ""
            except Exception as e:  # run_here wrote the traceback to the run's log
                code, error = 1, _line(e)
            results.put(("ended", wid, code, error))
    except KeyboardInterrupt:  # Ctrl-C while idle: nothing to save
        return
