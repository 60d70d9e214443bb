"""What SLURM says about jobs: ``sacct`` when accounting works, else ``squeue``.

Many clusters (and every test cluster without slurmdbd) have no working ``sacct``;
submitit then reports every job ``UNKNOWN``. Here a job that ``sacct`` cannot
describe is looked up with ``squeue``, which the controller answers for jobs that run,
wait, or ended less than ``MinJobAge`` (default 300 s) ago. A job neither lists is
gone; when neither command answers, nothing is known (``None``), and callers must
assume the jobs still run.
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence

#: states of a job that will not run again (sacct and squeue spell them alike).
ENDED = (
    "COMPLETED",
    "FAILED",
    "CANCELLED",
    "TIMEOUT",
    "OUT_OF_MEMORY",
    "NODE_FAIL",
    "BOOT_FAIL",
    "DEADLINE",
    "REVOKED",
    "SPECIAL_EXIT",
)  # not PREEMPTED: a pre-empted job may be requeued
#: the state given to a job that SLURM no longer lists.
GONE = "GONE"


def _ask(argv: list[str]) -> list[str] | None:
    """The output lines of `argv`, or None when it cannot run or fails."""
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    return proc.stdout.splitlines() if proc.returncode == 0 else None


def _parse(lines: list[str]) -> dict[str, str]:
    states: dict[str, str] = {}
    for line in lines:
        job, _, state = line.strip().partition("|")
        if job and state:
            states[job.strip()] = state.split()[0].upper()  # "CANCELLED by 0" -> CANCELLED
    return states


def sacct_states(job_ids: Sequence[str]) -> dict[str, str]:
    """{job id: state} for the jobs sacct knows (empty when accounting is off)."""
    lines = _ask(["sacct", "-n", "-X", "-P", "-o", "JobID,State", "-j", ",".join(job_ids)])
    return _parse(lines) if lines else {}


def squeue_states(job_ids: Sequence[str]) -> dict[str, str] | None:
    """{job id: state} for every one of `job_ids`, ``GONE`` where the controller no
    longer lists it; None when squeue does not answer."""
    lines = _ask(["squeue", "-h", "-a", "-r", "-t", "all", "-o", "%i|%T"])
    if lines is None:
        return None
    listed = _parse(lines)
    return {j: listed.get(j, GONE) for j in job_ids}


def states(job_ids: Sequence[str]) -> dict[str, str] | None:
    """{job id: state} of `job_ids`: from sacct, the rest from squeue; None when
    SLURM cannot say (neither command answers) for a job that sacct does not know."""
    ids = [str(j) for j in job_ids]
    if not ids:
        return {}
    known = sacct_states(ids)
    rest = [j for j in ids if j not in known]
    if rest:
        queued = squeue_states(rest)
        if queued is None:
            return None
        known.update(queued)
    return {j: known[j] for j in ids}


def ended(state: str) -> bool:
    """Whether a job in `state` (a SLURM state, or ``GONE``) will not run again."""
    return state == GONE or state.startswith(ENDED)
