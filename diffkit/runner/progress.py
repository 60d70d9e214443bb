"""A one-line progress display on a terminal (nothing when stderr is not a TTY)."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    """A one-line progress bar (step, steps/s, a status text) on a terminal; silent otherwise."""

    def __init__(self, total: int, start: int = 0, enabled: bool = True, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.total, self.start = total, start
        self.enabled = enabled and self.stream.isatty()
        self.t0 = time.perf_counter()
        self.text = ""

    def update(self, step: int, text: str | None = None) -> None:
        if text is not None:
            self.text = text
        if not self.enabled:
            return
        done = step / max(1, self.total)
        bar = "#" * int(30 * done)
        rate = (step - self.start) / max(1e-9, time.perf_counter() - self.t0)
        eta = (self.total - step) / rate if rate > 0 else 0
        self.stream.write(f"\r[{bar:<30}] {step}/{self.total} {self.text} eta {eta:5.0f}s ")
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()
