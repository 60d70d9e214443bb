"""Watching submitted submitit jobs until each has ended, and the one line that says why
a job failed: the run log's own error line first, then submitit's, with SLURM's state."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from diffkit.interfaces.launcher import Report
from diffkit.runner import rundir
from diffkit.sweep.job import RunJob

from . import slurm_state

#: seconds a job SLURM says has ended may take to show its result file (shared file systems).
RESULT_GRACE_S = 10.0
RUNNING = ("RUNNING", "COMPLETING")


class Watch:
    """The submitted jobs of one launch; `poll` reports what changed."""

    def __init__(self, cluster: str, jobs: Sequence[RunJob], submitted: Sequence[Any], report: Report) -> None:
        self.cluster, self.report = cluster, report
        self.pending = dict(enumerate(zip(jobs, submitted)))
        self.started: set[int] = set()
        self.ended_at: dict[int, float] = {}

    def poll(self) -> bool:
        """Report jobs that started or ended since the last poll; False once all have ended."""
        known = self._states()
        for i, (job, sj) in list(self.pending.items()):
            state = known.get(str(sj.job_id), "") if known is not None else ""
            self._started(i, job, sj, state)
            if sj.paths.result_pickle.exists() or (self.cluster != "slurm" and sj.done()):
                del self.pending[i]
                self.report.ended(job, *outcome(sj, job, state))
            elif state and slurm_state.ended(state):  # ended without a result (killed, cancelled, node lost)
                first = self.ended_at.setdefault(i, time.monotonic())
                if time.monotonic() - first >= RESULT_GRACE_S:
                    del self.pending[i]
                    self.report.ended(job, *outcome(sj, job, state))
        return bool(self.pending)

    def _states(self) -> dict[str, str] | None:
        if self.cluster != "slurm":
            return {str(sj.job_id): sj.state for _, sj in self.pending.values()}
        return slurm_state.states([str(sj.job_id) for _, sj in self.pending.values()])

    def _started(self, i: int, job: RunJob, sj: Any, state: str) -> None:
        if i not in self.started and state in RUNNING:
            self.started.add(i)
            self.report.running(job, str(sj.job_id))
        elif i in self.started and state in ("PENDING", "REQUEUED"):  # requeued after a pre-emption
            self.started.discard(i)
            self.report.queued(job, str(sj.job_id))


def outcome(sj: Any, job: RunJob, state: str = "") -> tuple[int, str]:
    """(exit code of ``diffkit train`` on rank 0, error line) of an ended submitit job."""
    slurm = f" (SLURM: {state})" if state and state not in RUNNING and state != "COMPLETED" else ""
    if sj.paths.result_pickle.exists():
        try:
            return int(sj.results()[0]), ""  # the sweep reads a failed run's error from its log
        except Exception as e:  # noqa: BLE001 - submitit re-raises the job's error
            line = run_error(job) or exception_line(str(e)) or type(e).__name__
            return 1, f"{line}{slurm}"[:500]
    status = rundir.read_json(job.dir / rundir.STATUS)
    if status.get("status") == "interrupted":  # stopped and saved, then the job was ended
        return 128 + int(status.get("signal") or 15), ""
    line = run_error(job) or f"submitit job {sj.job_id} ended without a result"
    return 1, f"{line}{slurm}"[:500]


def run_error(job: RunJob) -> str:
    """The last ``error`` line of the newest attempt in the run's log (empty if none)."""
    try:
        lines = [ln.strip() for ln in job.log.read_text(errors="replace").splitlines()]
    except OSError:
        return ""
    attempt = lines[max((i + 1 for i, ln in enumerate(lines) if ln.startswith("$ ")), default=0) :]
    errors = [ln for ln in attempt if "error" in ln.lower()]
    return errors[-1][:400] if errors else ""


def exception_line(text: str) -> str:
    """The line of a job's traceback that names the error (``XError: ...``), else its last."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    named = [ln for ln in lines if ("Error:" in ln or "not requeued" in ln) and not ln.startswith("File ")]
    return (named or lines or [""])[-1][:400]


def submission_error(e: Exception, gpus_per_node: int) -> str:
    """One line for an sbatch that refused the job array, naming the cause."""
    lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
    said = [ln for ln in lines if ln.lower().startswith(("sbatch: error", "error"))] or lines or [type(e).__name__]
    reason = said[-1].removeprefix("sbatch: error: ")
    hint = ""
    if "gres" in reason.lower() and gpus_per_node:
        hint = f"; launcher.gpus_per_node={gpus_per_node} asks for GPUs: set launcher.gpus_per_node=0 on a cluster without GPUs"
    elif "controller" in reason.lower() or "connect" in reason.lower():
        hint = "; is SLURM running here (sinfo)? launcher.cluster=local runs the jobs on this machine"
    return f"launcher submitit: sbatch refused the jobs: {reason}{hint}"
