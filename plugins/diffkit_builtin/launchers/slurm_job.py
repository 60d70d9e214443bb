"""What runs inside a submitit job: one process of a run's training, requeued on pre-emption."""

from __future__ import annotations

import atexit
import logging
import os
import signal
import sys
import zlib
from typing import Any

from diffkit.environ import environment
from diffkit.interfaces.launcher import Job
from diffkit.runner import stop


def torchrun_env(job_env: Any) -> dict[str, str]:
    """The variables that diffkit.runner.distributed reads under torchrun (RANK,
    WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT), from submitit's JobEnvironment
    (SLURM_PROCID, SLURM_NTASKS, SLURM_LOCALID, the first host of SLURM_JOB_NODELIST);
    empty for a single-process job. The port is derived from the job id, so that the
    tasks of one job agree on it and jobs sharing a node differ."""
    if job_env.num_tasks <= 1:
        return {}
    return {
        "RANK": str(job_env.global_rank),
        "WORLD_SIZE": str(job_env.num_tasks),
        "LOCAL_RANK": str(job_env.local_rank),
        "MASTER_ADDR": str(job_env.hostnames[0]),
        "MASTER_PORT": str(20000 + zlib.crc32(str(job_env.job_id).encode()) % 20000),
    }


class TrainJob:
    """The callable submitit runs: trains `job` in this process (one DDP rank per task).

    On SIGUSR2 or SIGTERM the run saves a checkpoint after its current step and stops
    (diffkit.runner.stop). Only submitit's pre-emption signal (SIGUSR2: a time limit or
    pre-emption is near) requeues: rank 0 hands over to submitit's own handler, which
    calls `checkpoint` and requeues the job, also when the signal came during
    start-up; the requeued job runs the same Job, which resumes from the checkpoint
    when one exists. SIGTERM alone (``scancel``) ends the run ``interrupted`` and
    resumable. A run that fails ends the job with its exit code, so sacct shows FAILED.
    """

    def __init__(self, job: Job) -> None:
        self.job = job

    def __call__(self) -> int:
        import submitit

        dist = torchrun_env(submitit.JobEnvironment())
        main_rank = dist.get("RANK", "0") == "0"
        stop.received.clear()
        with environment(dist):
            code = self.job.run_here(main_process=main_rank)
        if main_rank and submitit.JobEnvironment._usr_sig() in stop.received:
            self._requeue(submitit)
        if code and os.environ.get("SUBMITIT_EXECUTOR") == "slurm":
            atexit.register(_exit_with, code)  # after submitit has written the result
        return code

    def _requeue(self, submitit: Any) -> None:
        """Let submitit's handler of its pre-emption signal checkpoint and requeue the job
        (it exits this process); outside a submitit worker nothing happens."""
        usr_sig = submitit.JobEnvironment._usr_sig()
        handler = signal.getsignal(usr_sig)
        if callable(handler) and os.environ.get("SUBMITIT_EXECUTOR"):
            handler(usr_sig, None)

    def checkpoint(self) -> Any:
        """What submitit pickles for the requeued job: this job again (it resumes)."""
        import submitit

        return submitit.helpers.DelayedSubmission(TrainJob(self.job))


def _exit_with(code: int) -> None:
    """End the process with `code` (what SLURM records as the job's exit code)."""
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
