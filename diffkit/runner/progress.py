"""Progress bars (steps, rate, ETA and a status such as the loss): tqdm's text bar on a
terminal, its widget in a Jupyter notebook (``tqdm.auto``); nothing at all when stderr
is neither (a log file, a pipe) or the bar is turned off."""

from __future__ import annotations

import sys
from typing import TextIO

from tqdm import tqdm
from tqdm.auto import tqdm as auto_tqdm


def bar(
    total: int | None,
    desc: str,
    *,
    unit: str = "step",
    initial: int = 0,
    enabled: bool = True,
    stream: TextIO | None = None,
) -> tqdm:
    """A tqdm bar on `stream` (stderr), disabled unless `enabled` and `stream` is a TTY.

    For any loop of diffkit (training, sampling, evaluation, sweeps):
    ``with bar(len(runs), "sweep", unit="run") as b: ... b.update(1)``.
    """
    if stream is None and enabled and in_notebook():
        return auto_tqdm(total=total, initial=initial, desc=desc, unit=unit, leave=True)
    stream = stream or sys.stderr
    return tqdm(
        total=total,
        initial=initial,
        desc=desc,
        unit=unit,
        file=stream,
        dynamic_ncols=True,
        disable=not (enabled and stream.isatty()),
        leave=True,
    )


def in_notebook() -> bool:
    """This process is a Jupyter kernel (its stderr is the kernel's stream, not a TTY)."""
    shell = getattr(sys.modules.get("IPython"), "get_ipython", lambda: None)()
    return type(shell).__name__ == "ZMQInteractiveShell"


class Progress:
    """The training bar: ``update(step, "loss 0.0312")`` after each step, ``close()`` at the end."""

    def __init__(self, total: int | None, start: int = 0, enabled: bool = True, stream: TextIO | None = None) -> None:
        self.bar = bar(total, "train", initial=start, enabled=enabled, stream=stream)
        self.enabled = not self.bar.disable

    def update(self, step: int, text: str | None = None) -> None:
        if text is not None:
            self.bar.set_postfix_str(text, refresh=False)
        self.bar.update(step - self.bar.n)

    def set_total(self, total: int) -> None:
        """The number of steps, once known (a time budget is planned after a few steps)."""
        self.bar.total = total
        self.bar.refresh()

    def close(self) -> None:
        self.bar.close()
