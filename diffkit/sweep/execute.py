"""Running a sweep: plan each run, hand the runs to a launcher, record how each ended.

A run whose status.json says ``completed`` is skipped; one with a loadable
checkpoint is resumed (``diffkit train --resume`` also finishes a run killed during
its final sample grid or evaluation); any other is started afresh, a leftover
directory being moved aside (``<run>.discarded-<time>``), never deleted. The
launcher (``local`` subprocesses, ``submitit`` on SLURM, or a plugin's) trains the
runs; output of each attempt is appended to ``<sweep dir>/logs/<run>.log`` and
``sweep.json`` records every run's state, job id, attempts, error and metrics as
they change. A run that fails is launched again at most ``launcher.retries`` times.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from diffkit import checkpoint as ckpt
from diffkit.errors import ConfigError
from diffkit.interfaces.launcher import Job, Launcher
from diffkit.runner import rundir
from diffkit.sweep.job import RunJob, discard
from diffkit.sweep.spec import RunSpec, Sweep

SUMMARY = "sweep.json"
LOGS = "logs"
FINAL = ("completed", "failed", "interrupted")


@dataclass
class RunResult:
    """One run of a sweep: its name, directory, grid values, what was done and how it ended."""

    name: str
    dir: str
    values: dict[str, Any]
    action: str  # skip | resume | start
    status: str = "pending"  # pending | queued | running | completed | failed | interrupted
    error: str = ""
    metrics: dict[str, Any] = field(default_factory=dict)
    job_id: str = ""
    attempts: int = 0


def plan(sweep: Sweep, run: RunSpec) -> str:
    """``skip`` (completed), ``resume`` (has a loadable checkpoint) or ``start``."""
    run_dir = sweep.dir / run.name
    if rundir.read_json(run_dir / rundir.STATUS).get("status") == "completed":
        return "skip"
    return "resume" if ckpt.load_latest(run_dir / rundir.CHECKPOINTS) is not None else "start"


#: where the runs of a sweep keep torch.compile's kernels (``TORCHINDUCTOR_CACHE_DIR``), under the sweep dir.
INDUCTOR_CACHE = "inductor_cache"


def make_job(sweep: Sweep, run: RunSpec, plugins: Sequence[str]) -> RunJob:
    """The job that trains `run`: started from the sweep's base config and the run's overrides, or resumed.
    Every run of a sweep shares one inductor cache in the sweep directory (unless the caller set
    ``TORCHINDUCTOR_CACHE_DIR``), so with ``train.compile=true`` only the first run of each network
    compiles its kernels, on this machine or on any node that mounts the sweep directory."""
    env = (
        {} if "TORCHINDUCTOR_CACHE_DIR" in os.environ else {"TORCHINDUCTOR_CACHE_DIR": str(sweep.dir / INDUCTOR_CACHE)}
    )
    return RunJob(
        name=run.name,
        dir=sweep.dir / run.name,
        log=sweep.dir / LOGS / f"{run.name}.log",
        config=str(sweep.base) if sweep.base else None,
        overrides=list(sweep.run_overrides(run)),
        plugins=list(plugins),
        env=env,
    )


class Bookkeeper:
    """The [`Report`][diffkit.interfaces.launcher.Report] of a sweep: updates each run's
    result from the launcher's reports and rewrites ``sweep.json`` after each."""

    def __init__(self, sweep: Sweep, results: list[RunResult], launcher: Launcher, echo: Callable[[str], None]) -> None:
        self.sweep, self.results, self.echo = sweep, results, echo
        self.by_name = {r.name: r for r in results}
        self.launcher = getattr(launcher, "build_config", {"name": type(launcher).__name__})
        self.lock = threading.Lock()

    def queued(self, job: Job, job_id: str = "") -> None:
        self._update(job, "queued", job_id)

    def running(self, job: Job, job_id: str = "") -> None:
        self._update(job, "running", job_id)

    def ended(self, job: Job, returncode: int, error: str = "") -> None:
        result = self.by_name[job.name]
        with self.lock:
            finish(result, returncode, error or last_error(job.log))
            self.write()
        self.echo(f"diffkit sweep: {result.status} {job.name}" + (f": {result.error}" if result.error else ""))

    def _update(self, job: Job, status: str, job_id: str) -> None:
        result = self.by_name[job.name]
        with self.lock:
            result.status = status
            result.job_id = job_id or result.job_id
            self.write()

    def write(self) -> None:
        write_summary(self.sweep, self.results, self.launcher)


def execute(
    sweep: Sweep, launcher: Launcher, plugins: Sequence[str] = (), echo: Callable[[str], None] | None = None
) -> list[RunResult]:
    """Train every run that is not completed with `launcher`; return every run's result."""
    say = echo or (lambda line: print(line, file=sys.stderr, flush=True))
    check_not_running(sweep, launcher)
    (sweep.dir / LOGS).mkdir(parents=True, exist_ok=True)
    results = [RunResult(r.name, str(sweep.dir / r.name), r.values, plan(sweep, r)) for r in sweep.runs]
    earlier = recorded_runs(sweep)
    books = Bookkeeper(sweep, results, launcher, say)
    jobs = {r.name: make_job(sweep, spec, plugins) for r, spec in zip(results, sweep.runs)}
    for result in results:
        if result.action == "skip":
            finish(result, 0, "")
            kept = earlier.get(result.name, {})  # the job that completed it, and its attempts
            result.job_id = str(kept.get("job_id") or "")
            result.attempts = kept["attempts"] if isinstance(kept.get("attempts"), int) else 0
        elif result.action == "start":
            _check_movable(jobs[result.name].dir)
            moved = discard(jobs[result.name].dir)
            if moved is not None:
                say(f"diffkit sweep: {result.name} held no checkpoint; moved it aside to {moved}")
    books.write()
    todo = [r for r in results if r.action != "skip"]
    for attempt in range(1 + max(0, int(launcher.retries))):
        if not todo:
            break
        for r in todo:
            r.attempts += 1
            r.status, r.error = "pending", ""
            say(f"diffkit sweep: {'retry' if attempt else r.action} {r.name}")
        books.write()
        try:
            launcher.launch([jobs[r.name] for r in todo], books)
        finally:
            with books.lock:
                books.write()
        todo = [r for r in todo if r.status == "failed"]
    return results


def recorded_runs(sweep: Sweep) -> dict[str, dict[str, Any]]:
    """{run name: its entry} in the ``sweep.json`` of an earlier run of this sweep."""
    runs = rundir.read_json(sweep.dir / SUMMARY).get("runs")
    return {r["name"]: r for r in runs if isinstance(r, dict) and "name" in r} if isinstance(runs, list) else {}


def check_not_running(sweep: Sweep, launcher: Launcher) -> None:
    """Raise ConfigError when jobs that an earlier ``diffkit sweep`` of this directory
    submitted with the same launcher are still queued or running (a second copy of a run
    would train into the same directory)."""
    previous = rundir.read_json(sweep.dir / SUMMARY)
    name = getattr(launcher, "build_config", {}).get("name")
    if not previous or previous.get("launcher", {}).get("name") != name:
        return
    recorded = {
        str(r["job_id"]): r["name"]
        for r in previous.get("runs", [])
        if r.get("job_id") and r.get("status") in ("queued", "running")
    }
    alive = sorted(launcher.active(list(recorded))) if recorded else []
    if alive:
        runs = ", ".join(f"{recorded[j]} (job {j})" for j in alive)
        raise ConfigError(
            f"{len(alive)} run(s) of {sweep.dir} are still queued or running from an earlier `diffkit sweep`: "
            f"{runs}; wait for them (diffkit sweep --status {sweep.dir}) or cancel them, then run the sweep again"
        )


def _check_movable(run_dir: Path) -> None:
    if run_dir.exists() and not run_dir.is_dir():
        raise ConfigError(f"{run_dir} exists and is not a directory; move it away or choose another sweep dir")


def finish(result: RunResult, returncode: int, error: str) -> None:
    """Set `result`'s status from the run's status.json and the exit code of its ``diffkit train``."""
    run_dir = Path(result.dir)
    status = rundir.read_json(run_dir / rundir.STATUS).get("status", "")
    if returncode == 0 and status == "completed":
        result.status, result.error = "completed", ""
    elif status == "interrupted" and returncode != 1 and returncode != 2:
        result.status, result.error = "interrupted", "stopped by a signal; re-run the sweep to resume"
    else:
        result.status = "failed"
        result.error = error or f"exit code {returncode}"
    result.metrics = rundir.read_json(run_dir / rundir.METRICS)


def last_error(log: Path) -> str:
    """The last ``error`` line of the newest attempt in `log`, else its last line."""
    try:
        lines = [ln.strip() for ln in log.read_text(errors="replace").splitlines()]
    except OSError:
        return ""
    attempt = lines[max((i + 1 for i, ln in enumerate(lines) if ln.startswith("$ ")), default=0) :]
    errors = [ln for ln in attempt if "error" in ln.lower()]
    return (errors or [ln for ln in attempt if ln] or [""])[-1][:500]


def write_summary(sweep: Sweep, results: list[RunResult], launcher: dict[str, Any] | None = None) -> None:
    rundir.write_json(
        sweep.dir / SUMMARY,
        {
            "sweep": str(sweep.path),
            "base": str(sweep.base) if sweep.base else None,
            "overrides": sweep.overrides,
            "grid": sweep.grid,
            "launcher": launcher or {},
            "runs": [asdict(r) for r in results],
        },
    )
