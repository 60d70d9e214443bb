"""One writer per run directory: an advisory lock on ``RUN_DIR/.lock``.

``train``, ``train --resume`` and ``eval`` take it for as long as they write the run
(sweep runs are ``diffkit train`` processes). The kernel releases a ``flock`` when its
holder dies, so a lock left by a killed process is free; its file still names the dead
holder, and the next writer takes it over with a warning. Under torchrun only rank 0
writes, so only rank 0 locks.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from diffkit.errors import DiffkitError

LOCK = ".lock"
#: locks this process holds: resolved run dir -> open file descriptor (re-entrant).
_held: dict[Path, int] = {}


class RunLockedError(DiffkitError):
    """Another process is writing the run directory."""


def _holder(fd: int) -> dict:
    os.lseek(fd, 0, os.SEEK_SET)
    try:
        data = json.loads(os.read(fd, 4096) or b"{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _describe(holder: dict) -> str:
    if not holder:
        return "another process"
    return f"pid {holder.get('pid')} on {holder.get('host')} ({holder.get('command', 'diffkit')})"


def acquire(run_dir: Path, command: str = "diffkit") -> None:
    """Take `run_dir`'s lock until `release` or the end of the process.

    Raises RunLockedError (exit 2) naming the holder when another process has it; a
    lock file naming a holder that is gone is taken over with a warning."""
    key = Path(run_dir).resolve()
    if key in _held:
        return
    fd = os.open(key / LOCK, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = _holder(fd)
        os.close(fd)
        raise RunLockedError(
            f"{run_dir} is being written by {_describe(holder)}; wait for it to finish or stop it (lock: {key / LOCK})"
        ) from None
    stale = _holder(fd)
    if stale:
        print(
            f"diffkit: warning: {run_dir}: took over the lock of {_describe(stale)}, which is no longer "
            "running (killed?)",
            file=sys.stderr,
        )
    me = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "command": command,
        "since": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    os.ftruncate(fd, 0)
    os.pwrite(fd, json.dumps(me).encode() + b"\n", 0)
    _held[key] = fd


@contextmanager
def scope() -> Iterator[None]:
    """Release, on leaving, every lock taken inside (a command's locks end with it,
    also when it runs in-process, as in tests)."""
    before = set(_held)
    try:
        yield
    finally:
        for key in set(_held) - before:
            release(key)


def release(run_dir: Path) -> None:
    """Give the lock back (emptying the file, so the next writer sees no stale holder)."""
    fd = _held.pop(Path(run_dir).resolve(), None)
    if fd is None:
        return
    try:
        os.ftruncate(fd, 0)
    except OSError:
        pass  # a read-only or full file system: the kernel still drops the lock below
    os.close(fd)


def writer(run_dir: Path) -> str | None:
    """Who holds `run_dir`'s lock now (``pid N on HOST (...)``), or None when nobody
    does (no lock file, or a free one). Takes nothing: the probe lock is dropped at once."""
    path = Path(run_dir) / LOCK
    if Path(run_dir).resolve() in _held:
        return None
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return _describe(_holder(fd))
    except OSError:
        return None
    else:
        return None
    finally:
        os.close(fd)
