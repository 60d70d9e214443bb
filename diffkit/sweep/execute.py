"""Running a sweep: each run is a ``python -m diffkit train`` subprocess, so runs go
in parallel (``jobs``) and a crash takes down only its own run.

A run whose status.json says ``completed`` is skipped; one with a loadable
checkpoint is resumed; any other is started afresh. Output of each attempt is
appended to ``<sweep dir>/logs/<run>.log``; ``sweep.json`` records every run's
state, error and metrics after each run ends.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from diffkit import checkpoint as ckpt
from diffkit.errors import ConfigError
from diffkit.runner import rundir
from diffkit.sweep.spec import RunSpec, Sweep

SUMMARY = "sweep.json"
LOGS = "logs"


@dataclass
class RunResult:
    """One run of a sweep: its name, directory, grid values, what was done and how it ended."""

    name: str
    dir: str
    values: dict[str, Any]
    action: str  # skip | resume | start
    status: str = "pending"  # completed | failed | interrupted | pending
    error: str = ""
    metrics: dict[str, Any] = field(default_factory=dict)


def plan(sweep: Sweep, run: RunSpec) -> str:
    """``skip`` (completed), ``resume`` (has a loadable checkpoint) or ``start``."""
    run_dir = sweep.dir / run.name
    if rundir.read_json(run_dir / rundir.STATUS).get("status") == "completed":
        return "skip"
    found = ckpt.load_latest(run_dir / rundir.CHECKPOINTS)
    if found is not None and int(found[1]["step"]) < _steps(run_dir):
        return "resume"
    return "start"


def _steps(run_dir: Path) -> int:
    """train.steps of the run's saved config (a run killed after its final
    checkpoint but before finishing is started again)."""
    try:
        return int(yaml.safe_load((run_dir / rundir.CONFIG).read_text())["train"]["steps"])
    except (OSError, KeyError, TypeError, ValueError, yaml.YAMLError):
        return 0


def command(sweep: Sweep, run: RunSpec, action: str, plugins: list[str]) -> list[str]:
    """The ``python -m diffkit train`` argument list of `run`."""
    cmd = [sys.executable, "-m", "diffkit", "train"]
    for p in plugins:
        cmd += ["-p", p]
    if action == "resume":
        return [*cmd, "--resume", str(sweep.dir / run.name), *sweep.run_overrides(run)]
    base = [str(sweep.base)] if sweep.base else []
    return [*cmd, *base, *sweep.run_overrides(run), f"run.dir={sweep.dir / run.name}"]


def execute(sweep: Sweep, jobs: int = 1, plugins: list[str] | None = None, echo: Any = None) -> list[RunResult]:
    """Run every run that is not completed, `jobs` at a time; return every run's result."""
    echo = echo or (lambda line: print(line, file=sys.stderr, flush=True))
    (sweep.dir / LOGS).mkdir(parents=True, exist_ok=True)
    results = [RunResult(r.name, str(sweep.dir / r.name), r.values, plan(sweep, r)) for r in sweep.runs]
    lock = threading.Lock()
    stopping = threading.Event()
    env = _child_env(jobs)

    def one(spec: RunSpec, result: RunResult) -> None:
        if stopping.is_set():
            return
        if result.action == "skip":
            _finish(result, 0, "")
        else:
            echo(f"diffkit sweep: {result.action} {spec.name}")
            _clear_unfinished(sweep.dir / spec.name, result.action)
            log = sweep.dir / LOGS / f"{spec.name}.log"
            with open(log, "a") as f:
                f.write(f"$ {' '.join(command(sweep, spec, result.action, plugins or []))}\n")
                f.flush()
                proc = subprocess.run(command(sweep, spec, result.action, plugins or []), stdout=f,
                                      stderr=subprocess.STDOUT, env=env)
            _finish(result, proc.returncode, _last_error(log))
            echo(f"diffkit sweep: {result.status} {spec.name}" + (f": {result.error}" if result.error else ""))
        with lock:
            write_summary(sweep, results)

    pool = ThreadPoolExecutor(max_workers=max(1, jobs))
    try:
        for future in [pool.submit(one, s, r) for s, r in zip(sweep.runs, results)]:
            future.result()
    except KeyboardInterrupt:  # the runs got the signal too: they save and stop; start no more
        stopping.set()
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    finally:
        pool.shutdown(wait=True)
        with lock:
            write_summary(sweep, results)
    return results


def _finish(result: RunResult, returncode: int, error: str) -> None:
    run_dir = Path(result.dir)
    status = rundir.read_json(run_dir / rundir.STATUS).get("status", "")
    if returncode == 0 and status == "completed":
        result.status, result.error = "completed", ""
    elif returncode == 0 and status == "interrupted":
        result.status, result.error = "interrupted", "stopped by a signal; re-run the sweep to resume"
    else:
        result.status = "failed"
        result.error = error or f"exit code {returncode}"
    result.metrics = rundir.read_json(run_dir / rundir.METRICS)


def _clear_unfinished(run_dir: Path, action: str) -> None:
    """Remove a run directory that holds no usable checkpoint, so the run can start afresh."""
    if action != "start" or not run_dir.exists():
        return
    if not (run_dir / rundir.CONFIG).exists() and any(run_dir.iterdir()):
        raise ConfigError(f"{run_dir} exists and is not a diffkit run; move it away or choose another sweep dir")
    shutil.rmtree(run_dir)


def _last_error(log: Path) -> str:
    """The last ``error`` line of the newest attempt in `log`, else its last line."""
    lines = [ln.strip() for ln in log.read_text(errors="replace").splitlines()]
    attempt = lines[max((i for i, ln in enumerate(lines) if ln.startswith("$ ")), default=0):]
    errors = [ln for ln in attempt if "error" in ln.lower()]
    return (errors or [ln for ln in attempt if ln] or [""])[-1][:500]


def _child_env(jobs: int) -> dict[str, str]:
    """The environment of the runs: with several jobs, CPU threads are split between them."""
    env = dict(os.environ)
    if jobs > 1 and "OMP_NUM_THREADS" not in env:
        env["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // jobs))
    return env


def write_summary(sweep: Sweep, results: list[RunResult]) -> None:
    rundir.write_json(sweep.dir / SUMMARY, {
        "sweep": str(sweep.path),
        "base": str(sweep.base) if sweep.base else None,
        "overrides": sweep.overrides,
        "grid": sweep.grid,
        "runs": [asdict(r) for r in results],
    })
