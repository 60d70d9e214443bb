"""Stopping a run cleanly on SIGINT, SIGTERM or SIGUSR2 (SLURM's warning before a time
limit or pre-emption, as submitit asks for it)."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Iterator
from typing import Any

#: the signals that stop a run after its current step (SIGUSR2 is not on Windows).
SIGNALS = tuple(getattr(signal, n) for n in ("SIGINT", "SIGTERM", "SIGUSR2") if hasattr(signal, n))
#: every stop signal this process received (a job wrapper asks which, e.g. whether SLURM
#: warned of a pre-emption with SIGUSR2 or a user cancelled with SIGTERM).
received: list[int] = []


class StopSignal:
    """Records the first SIGINT/SIGTERM/SIGUSR2; the training loop finishes its step, saves a
    checkpoint and leaves. A second signal raises KeyboardInterrupt (stop now, no save).
    While `starting` (before the first step: nothing to save yet) the first signal
    raises KeyboardInterrupt at once."""

    def __init__(self, starting: bool = False) -> None:
        self.signum = 0
        self.starting = starting
        self._previous: dict[int, Any] = {}

    def __call__(self, signum: int, frame: Any) -> None:
        received.append(signum)
        if self.starting:
            raise KeyboardInterrupt(f"{signal.Signals(signum).name} during start-up, before the first step")
        if self.signum == signal.SIGTERM and signum == getattr(signal, "SIGUSR2", None):
            return  # SLURM pre-empts with SIGTERM, then submitit's SIGUSR2: one stop
        if self.signum:
            raise KeyboardInterrupt(f"second {signal.Signals(signum).name}: stopped without saving")
        self.signum = signum
        # os.write, not print: a handler may interrupt a print to the same stream
        os.write(2, f"diffkit: {signal.Signals(signum).name} received; finishing the step and saving\n".encode())

    def install(self) -> None:
        """Handle SIGINT, SIGTERM and SIGUSR2 (only possible in the main thread)."""
        if threading.current_thread() is threading.main_thread():
            self._previous = {s: signal.signal(s, self) for s in SIGNALS}

    def restore(self) -> None:
        """Put the previous handlers back."""
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous = {}


class Terminated(KeyboardInterrupt):
    """SIGTERM outside training: unwinds like Ctrl-C, so temporary files are removed."""

    exit_code = 143  # 128 + SIGTERM, what a shell reports (diffkit.failure reads it)


@contextlib.contextmanager
def sigterm_unwinds() -> Iterator[None]:
    """Inside the block SIGTERM raises `Terminated` (by default it would end the
    process at once, leaving half-written temporary files); training installs its own
    handler over this one. Only in the main thread; elsewhere nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def raise_terminated(signum: int, frame: Any) -> None:
        received.append(signum)
        raise Terminated("SIGTERM")

    previous = signal.signal(signal.SIGTERM, raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
