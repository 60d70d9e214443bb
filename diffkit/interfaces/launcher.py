"""Launchers: where and how the runs of a sweep are trained (local processes, SLURM, ...)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from diffkit.sweep.job import RunJob


class Report(Protocol):
    """How a launcher tells the sweep what happened; the sweep writes it to ``sweep.json``
    at once, so ``diffkit sweep --status`` shows it. Thread-safe."""

    def queued(self, job: RunJob, job_id: str = "") -> None:
        """`job` was handed to a scheduler (optional; `job_id` is shown by --status)."""

    def running(self, job: RunJob, job_id: str = "") -> None:
        """`job` started (optional)."""

    def ended(self, job: RunJob, returncode: int, error: str = "") -> None:
        """`job` ended; call exactly once per job. `returncode` is the exit code of
        ``diffkit train`` (0: the run's status.json says how it ended), `error` a
        one-line reason when it failed outside the run (e.g. the scheduler lost it)."""


class Launcher(ABC):
    """Trains the runs of a sweep: one ``diffkit train`` per `RunJob`.

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
    def launch(self, jobs: Sequence[RunJob], report: Report) -> None:
        """Run every job in `jobs` and return when all have ended, having called
        ``report.ended`` once for each."""

    def active(self, job_ids: Sequence[str]) -> set[str]:
        """The ids among `job_ids` (recorded by an earlier ``diffkit sweep`` of the same
        directory) that are still queued or running; a sweep does not launch while any is.
        By default none is known."""
        return set()

    def describe(self, jobs: Sequence[RunJob]) -> str:
        """What ``diffkit sweep --dry-run`` shows about where the jobs would go (e.g. the
        batch script); empty by default."""
        return ""
