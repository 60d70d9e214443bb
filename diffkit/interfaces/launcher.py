"""Launchers: where and how the runs of a sweep are trained (local processes, SLURM, ...)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol


class Job(ABC):
    """One run of a sweep as a launcher sees it; picklable (submitit ships it to a node).

    name: the run's name in the sweep; dir: its run directory; log: the file its output
    is appended to; env: extra environment variables for its process. Whether the run
    starts or resumes is decided when it runs, so a launcher may simply run a job again
    after a pre-emption."""

    name: str
    dir: Path
    log: Path
    env: dict[str, str]

    @abstractmethod
    def command(self) -> list[str]:
        """The command line that trains the run in a new process."""

    @abstractmethod
    def run_here(self, main_process: bool = True) -> int:
        """Train the run in this process; return ``diffkit train``'s exit code.
        `main_process`: rank 0 of a distributed run (the others write no log)."""

    @abstractmethod
    def status(self) -> str:
        """How the run stands now (its ``status.json``): created, running, completed,
        failed, interrupted; "" when it has not started."""


class Report(Protocol):
    """How a launcher tells the sweep what happened; the sweep writes it to ``sweep.json``
    at once, so ``diffkit sweep --status`` shows it. Thread-safe."""

    def queued(self, job: Job, job_id: str = "") -> None:
        """`job` was handed to a scheduler (optional; `job_id` is shown by --status)."""

    def running(self, job: Job, job_id: str = "") -> None:
        """`job` started (optional)."""

    def ended(self, job: Job, returncode: int, error: str = "") -> None:
        """`job` ended; call exactly once per job. `returncode` is the exit code of
        ``diffkit train`` (0: the run's status.json says how it ended), `error` a
        one-line reason when it failed outside the run (e.g. the scheduler lost it)."""


class Launcher(ABC):
    """Trains the runs of a sweep: one ``diffkit train`` per :class:`Job`.

    The sweep has already planned each run (skip / resume / start), validated its
    config and written its bookkeeping; a launcher only runs the jobs it is given,
    where it likes (subprocesses, a cluster, a cloud service), and reports each
    job's end through `report`. ``job.command()`` is the command line to run;
    ``job.run_here()`` runs it in the current process. Both decide at run time
    whether to start or resume, so a launcher may simply run a job again after a
    pre-emption. Select one by name in a sweep file (``launcher: {name: ...}``).

    retries: how many more times the sweep launches a run that failed (continuing
    from its last checkpoint); set it from a constructor parameter.
    """

    retries: int = 0

    @abstractmethod
    def launch(self, jobs: Sequence[Job], report: Report) -> None:
        """Run every job in `jobs` and return when all have ended, having called
        ``report.ended`` once for each."""

    def active(self, job_ids: Sequence[str]) -> set[str]:
        """The ids among `job_ids` (recorded by an earlier ``diffkit sweep`` of the same
        directory) that are still queued or running; a sweep does not launch while any is.
        By default none is known."""
        return set()

    def describe(self, jobs: Sequence[Job]) -> str:
        """What ``diffkit sweep --dry-run`` shows about where the jobs would go (e.g. the
        batch script); empty by default."""
        return ""
