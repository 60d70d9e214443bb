"""One run of a sweep as a launcher sees it: a picklable job that trains the run,
starting it or resuming it from its checkpoint, whichever the run directory needs."""

from __future__ import annotations

import contextlib
import os
import shlex
import sys
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from diffkit import checkpoint as ckpt
from diffkit.runner import lock, rundir
from diffkit.runner.lock import RunLockedError


@dataclass
class RunJob:
    """name: the run's name in the sweep; dir: its run directory; log: the file its
    output is appended to; start/resume: ``diffkit train`` arguments that start the run
    afresh or continue it from its latest checkpoint; env: extra environment variables."""

    name: str
    dir: Path
    log: Path
    start: list[str]
    resume: list[str]
    env: dict[str, str] = field(default_factory=dict)

    def argv(self, tidy: bool = True) -> list[str]:
        """The ``diffkit train`` arguments for now: resume when the run directory holds a
        loadable checkpoint, else start (with `tidy`, a leftover directory is moved aside first)."""
        if ckpt.load_latest(self.dir / rundir.CHECKPOINTS) is not None:
            return list(self.resume)
        moved = discard(self.dir) if tidy else None
        if moved is not None:
            print(f"diffkit sweep: {self.dir} held no checkpoint; moved it aside to {moved}", file=sys.stderr)
        return list(self.start)

    def command(self) -> list[str]:
        """The command line that trains the run in a new process."""
        return [sys.executable, "-m", "diffkit", "train", *self.argv()]

    def run_here(self, main_process: bool = True) -> int:
        """Train the run in this process and return the exit code. The main process appends
        its output to the log and tidies the run directory; the other ranks of a
        distributed run do neither."""
        from diffkit.cli.main import main  # the CLI imports the whole runner

        argv = self.argv(tidy=main_process)
        output = appended_output(self.log, f"$ diffkit train {shlex.join(argv)}") if main_process else contextlib.nullcontext()
        with output, environment(self.env):
            try:
                return main(["train", *argv])
            except SystemExit as e:  # argparse
                return e.code if isinstance(e.code, int) else 1
            except Exception:  # not a user error: the traceback goes to the run's log too
                traceback.print_exc()
                raise


def discard(run_dir: Path) -> Path | None:
    """Move a non-empty `run_dir` aside to ``<run>.discarded-<time>`` (never delete:
    it may hold files a user put there); return the new path, or None when there was
    nothing to move."""
    if not run_dir.is_dir() or not any(run_dir.iterdir()):
        return None
    holder = lock.writer(run_dir)
    if holder is not None:  # a live run (an earlier sweep's job the scheduler could not report)
        raise RunLockedError(f"{run_dir} is being written by {holder}; not moving it aside")
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target, n = run_dir.with_name(f"{run_dir.name}.discarded-{stamp}"), 1
    while target.exists():
        n += 1
        target = run_dir.with_name(f"{run_dir.name}.discarded-{stamp}-{n}")
    run_dir.rename(target)
    return target


@contextlib.contextmanager
def appended_output(log: Path, header: str) -> Iterator[None]:
    """Send this process's output to the end of `log` inside the block: sys.stdout and
    sys.stderr, and file descriptors 1 and 2 (for C code and child processes)."""
    log.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with open(log, "a", buffering=1) as f:
        f.write(header + "\n")
        f.flush()
        os.dup2(f.fileno(), 1)
        os.dup2(f.fileno(), 2)
        try:
            with contextlib.redirect_stdout(f), contextlib.redirect_stderr(f):
                yield
        finally:
            f.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


@contextlib.contextmanager
def environment(extra: dict[str, str]) -> Iterator[None]:
    """Set the variables of `extra` inside the block."""
    previous = {k: os.environ.get(k) for k in extra}
    os.environ.update(extra)
    try:
        yield
    finally:
        for k, v in previous.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
