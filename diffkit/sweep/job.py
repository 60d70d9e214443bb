"""One run of a sweep as a launcher sees it: a picklable job that trains the run,
starting it or resuming it from its checkpoint, whichever the run directory needs."""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import sys
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import diffkit.api as api
from diffkit import checkpoint as ckpt
from diffkit.environ import environment
from diffkit.errors import DiffkitError
from diffkit.failure import describe
from diffkit.interfaces.launcher import Job
from diffkit.runner import rundir


@dataclass
class RunJob(Job):
    """A run of a sweep: name, dir (its run directory), log (the file its output is
    appended to), config (the sweep's base config file, or None), overrides (the run's
    ``key=value`` settings), plugins (``-p`` modules), env (extra environment variables).
    It starts the run, or resumes it when its directory holds a loadable checkpoint."""

    name: str
    dir: Path
    log: Path
    config: str | None = None
    overrides: list[str] = field(default_factory=list)
    plugins: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)

    def resuming(self, tidy: bool = True) -> bool:
        """Whether the run continues from a checkpoint now; when it starts afresh (with
        `tidy`) a leftover directory is moved aside first."""
        if ckpt.load_latest(self.dir / rundir.CHECKPOINTS) is not None:
            return True
        moved = discard(self.dir) if tidy else None
        if moved is not None:
            print(f"diffkit sweep: {self.dir} held no checkpoint; moved it aside to {moved}", file=sys.stderr)
        return False

    def argv(self, tidy: bool = True) -> list[str]:
        """The ``diffkit train`` arguments for now (see `resuming`)."""
        opts = [a for p in self.plugins for a in ("-p", p)]
        if self.resuming(tidy):
            return [*opts, "--resume", str(self.dir), *self.overrides]
        return [*opts, *([self.config] if self.config else []), *self.overrides, f"run.dir={self.dir}"]

    def command(self) -> list[str]:
        return [sys.executable, "-m", "diffkit", "train", *self.argv()]

    def status(self) -> str:
        return str(rundir.read_json(self.dir / rundir.STATUS).get("status", ""))

    def run_here(self, main_process: bool = True) -> int:
        """Train the run in this process through the Python API and return what ``diffkit
        train`` would exit with. The main process appends its output to the log and tidies
        the run directory; the other ranks of a distributed run do neither."""
        resuming = self.resuming(tidy=main_process)
        shown = shlex.join(self.argv(tidy=False))
        output = appended_output(self.log, f"$ diffkit train {shown}") if main_process else contextlib.nullcontext()
        with output, environment(self.env):
            try:
                if resuming:
                    api.resume(self.dir, self.overrides, plugins=self.plugins)
                else:
                    api.train(self.config, self.overrides, run_dir=self.dir, plugins=self.plugins)
            except (DiffkitError, OSError, KeyboardInterrupt) as e:
                line, code = describe(e) or (str(e), 1)
                print(f"diffkit: error: {line}", file=sys.stderr)
                return code
            except Exception:  # not a user error: the traceback goes to the run's log too
                traceback.print_exc()
                raise
        if self.status() == "interrupted":
            return 128 + int(rundir.read_json(self.dir / rundir.STATUS).get("signal") or signal.SIGTERM)
        return 0


def discard(run_dir: Path) -> Path | None:
    """Move a non-empty `run_dir` aside to ``<run>.discarded-<time>`` (never delete:
    it may hold files a user put there); return the new path, or None when there was
    nothing to move."""
    if not run_dir.is_dir() or not any(run_dir.iterdir()):
        return None
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
