"""The ``submitit`` launcher: each run of a sweep a SLURM job, submitted with submitit."""

from __future__ import annotations

import os
import shlex
import sys
import time as clock
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

from diffkit.errors import ConfigError
from diffkit.interfaces.launcher import Job, Launcher, Report

from . import slurm_state
from .slurm_job import TrainJob
from .slurm_watch import Watch, submission_error

CLUSTERS = ("slurm", "local", "debug")


def require_submitit() -> ModuleType:
    """The submitit module, or one ConfigError saying how to install it."""
    try:
        import submitit
    except ImportError:
        raise ConfigError('the submitit launcher needs the submitit package: pip install "diffkit[slurm]"') from None
    return submitit


class SubmititLauncher(Launcher):
    """Each run a SLURM job (one job array per sweep), through submitit.

    A job gets `nodes` x `tasks_per_node` processes (default: one per GPU), which train
    the run together with DistributedDataParallel; `gpus_per_node`, `cpus_per_task`,
    `mem_gb`, `partition`, `account`, `qos`, `constraint` and `time` (minutes) go to
    sbatch, and `sbatch` adds any other option ({exclude: node3}); `setup` lines run
    before the job (module load ...). `array_parallelism` caps the runs at once.

    Pre-emption: SLURM sends SIGUSR2 `signal_delay_s` seconds before the time limit; the
    run saves a checkpoint after its current step and the job is requeued and resumes
    bit-exactly, at most `max_timeouts` times (submitit counts every SIGUSR2 when `time`
    is under 50 minutes). SIGTERM (``scancel``) ends a run interrupted, not requeued. A
    run that fails for a real error is submitted again at most `retries` times.

    `cluster`: ``slurm``; ``local`` runs the jobs on this machine with submitit's local
    executor (a try-out without a cluster), ``debug`` in this process. `folder`: where
    submitit keeps its scripts and logs (default: ``<sweep dir>/submitit``).
    """

    def __init__(
        self,
        partition: str | None = None,
        time: int = 60,
        nodes: int = 1,
        gpus_per_node: int = 1,
        tasks_per_node: int | None = None,
        cpus_per_task: int | None = None,
        mem_gb: float | None = None,
        account: str | None = None,
        qos: str | None = None,
        constraint: str | None = None,
        array_parallelism: int = 256,
        setup: Sequence[str] = (),
        sbatch: Mapping[str, Any] | None = None,
        signal_delay_s: int = 120,
        max_timeouts: int = 3,
        retries: int = 0,
        cluster: str = "slurm",
        folder: str | None = None,
        poll_s: float = 10.0,
    ) -> None:
        require_submitit()
        if cluster not in CLUSTERS:
            raise ValueError(f"cluster must be one of {', '.join(CLUSTERS)}, got {cluster!r}")
        if sbatch is not None and not isinstance(sbatch, Mapping):
            raise ValueError(f"sbatch must be a mapping of sbatch options, got {sbatch!r}")
        for name, value in (("time", time), ("nodes", nodes), ("array_parallelism", array_parallelism)):
            if value < 1:
                raise ValueError(f"{name} must be >= 1, got {value}")
        if min(gpus_per_node, signal_delay_s, max_timeouts, retries) < 0 or (tasks_per_node or 1) < 1:
            raise ValueError(
                "gpus_per_node, signal_delay_s, max_timeouts and retries must be >= 0, tasks_per_node >= 1"
            )
        self.partition, self.time, self.nodes, self.gpus_per_node = partition, time, nodes, gpus_per_node
        self.tasks_per_node = tasks_per_node or max(1, gpus_per_node)
        self.cpus_per_task, self.mem_gb, self.account, self.qos = cpus_per_task, mem_gb, account, qos
        self.constraint, self.array_parallelism, self.setup = constraint, array_parallelism, list(setup)
        self.sbatch, self.signal_delay_s, self.max_timeouts = dict(sbatch or {}), signal_delay_s, max_timeouts
        self.retries, self.cluster, self.folder, self.poll_s = retries, cluster, folder, poll_s

    # -- sbatch ---------------------------------------------------------------
    def slurm_parameters(self, name: str = "diffkit") -> dict[str, Any]:
        """The options of submitit's SlurmExecutor (sbatch names) for one run's job."""
        params: dict[str, Any] = {
            "job_name": name,
            "partition": self.partition,
            "time": self.time,
            "nodes": self.nodes,
            "ntasks_per_node": self.tasks_per_node,
            "gpus_per_node": self.gpus_per_node or None,
            "cpus_per_task": self.cpus_per_task,
            "account": self.account,
            "qos": self.qos,
            "constraint": self.constraint,
            "array_parallelism": self.array_parallelism,
            "signal_delay_s": self.signal_delay_s,
            "setup": self.setup or None,
            "additional_parameters": self.sbatch or None,
            "mem": None if self.mem_gb is None else _mem(self.mem_gb),
        }
        return {k: v for k, v in params.items() if v is not None}

    def folder_for(self, jobs: Sequence[Job]) -> Path:
        return Path(self.folder) if self.folder else jobs[0].dir.parent / "submitit"

    def describe(self, jobs: Sequence[Job]) -> str:
        """The sbatch script of the job array (what ``sbatch`` would get)."""
        if self.cluster != "slurm" or not jobs:
            return f"submitit {self.cluster} executor: {len(jobs)} jobs"
        from submitit.slurm.slurm import _make_sbatch_string  # what SlurmExecutor writes

        folder = self.folder_for(jobs).resolve()
        command = f"{shlex.quote(sys.executable)} -u -m submitit.core._submit {shlex.quote(str(folder))}"
        params = self.slurm_parameters(job_name(jobs))
        count = len(jobs) if len(jobs) > 1 else None  # submitit submits one job as a plain job
        return _make_sbatch_string(command=command, folder=folder, map_count=count, **params)

    def executor(self, folder: Path, name: str = "diffkit") -> Any:
        """A submitit executor for `cluster`, with this launcher's resources."""
        submitit = require_submitit()
        if self.cluster == "debug":
            return submitit.DebugExecutor(folder)
        if self.cluster == "local":
            ex = submitit.LocalExecutor(folder, max_num_timeout=self.max_timeouts)
            ex.update_parameters(
                timeout_min=self.time,
                tasks_per_node=self.tasks_per_node,
                gpus_per_node=self.gpus_per_node,
                signal_delay_s=self.signal_delay_s,
            )
            return ex
        try:
            ex = submitit.SlurmExecutor(folder, max_num_timeout=self.max_timeouts)
        except RuntimeError as e:  # no srun on this machine
            raise ConfigError(f"launcher submitit with cluster=slurm: {e} (cluster=local runs the jobs here)") from None
        ex.update_parameters(**self.slurm_parameters(name))
        return ex

    def active(self, job_ids: Sequence[str]) -> set[str]:
        """Jobs still pending or running: asked of SLURM (sacct, else squeue; when neither
        answers, every job is taken for running), or for the local executor whether the
        job's controller process (its id) is alive."""
        if self.cluster == "local":
            return {j for j in job_ids if _alive(j)}
        if self.cluster != "slurm" or not job_ids:
            return set()
        known = slurm_state.states(job_ids)
        if known is None:
            return set(job_ids)
        return {j for j, state in known.items() if not slurm_state.ended(state)}

    # -- run ------------------------------------------------------------------
    def launch(self, jobs: Sequence[Job], report: Report) -> None:
        if not jobs:
            return
        submitit = require_submitit()
        ex = self.executor(self.folder_for(jobs).resolve(), job_name(jobs))
        try:
            with ex.batch():
                submitted = [ex.submit(TrainJob(job)) for job in jobs]
        except (submitit.core.utils.FailedJobError, submitit.core.utils.FailedSubmissionError) as e:
            raise ConfigError(submission_error(e, self.gpus_per_node)) from None
        for job, sj in zip(jobs, submitted):
            report.queued(job, str(sj.job_id))
        watch = Watch(self.cluster, jobs, submitted, report)
        while watch.poll():
            clock.sleep(self.poll_s)


def _alive(pid: str) -> bool:
    try:
        os.kill(int(pid), 0)
    except (ValueError, ProcessLookupError):
        return False
    except PermissionError:
        return True
    return True


def job_name(jobs: Sequence[Job]) -> str:
    """``diffkit-<sweep dir name>``: what squeue shows."""
    return f"diffkit-{jobs[0].dir.parent.name}" if jobs else "diffkit"


def _mem(gb: float) -> str:
    return f"{int(gb)}GB" if float(gb).is_integer() else f"{max(1, round(gb * 1024))}MB"
