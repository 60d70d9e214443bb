"""Helpers shared by the benchmarks: configs, timing, peak memory, the machine."""

from __future__ import annotations

import contextlib
import os
import platform
import re
import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import torch

from diffkit import hookimpl, load_plugins
from diffkit.config import Composed, compose
from diffkit.plugin_manager import Plugins
from diffkit.runner.device import cpu_has_native_bf16

#: 32x32 single-channel images, the network of configs/fashion_mnist.yaml. The data are the
#: bundled digits upscaled (loads in a fraction of a second; speed does not depend on content).
BASE_32 = ["data.image_size=32", "denoiser.channels=[64,128,256]"]
#: the seed's full-size network (configs/seed_reference.yaml: channels 64..1024, 62M parameters).
SEED_FULL = ["data.image_size=32", "denoiser.channels=[64,128,256,512,1024]"]

#: speed options and the config switch that turns each on.
OPTIONS: dict[str, list[str]] = {
    "baseline": [],
    "channels_last": ["train.channels_last=true"],
    "compile": ["train.compile=true"],
    "bf16": ["train.precision=bf16"],
}


def quiet_overrides(run_dir: Path, steps: int | None, log_every: int, budget: str | None = None) -> list[str]:
    """Overrides that leave only training steps and logging: no samples, no checkpoint
    before the end, no progress bar. With `budget` (``train.budget``, e.g. ``"2m"``) instead
    of `steps`, the run sizes its own steps."""
    length = (
        [f"train.budget={budget}", "train.checkpoint_every=0"]
        if budget
        else [f"train.steps={steps}", f"train.checkpoint_every={10 * (steps or 1)}"]
    )
    return [
        f"run.dir={run_dir}",
        *length,
        f"train.log_every={log_every}",
        "train.sample_every=0",
        "train.progress=false",
        "train.num_samples=1",
    ]


def load(overrides: Sequence[str], config: str | None = None, specs: Sequence[str] = ()) -> tuple[Composed, Plugins]:
    """Compose `config` + `overrides` with the built-in plugins and the modules `specs` (``-p``)."""
    plugins = load_plugins(list(specs), autoload=False)
    return compose(config, list(overrides), plugins.registry), plugins


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn: Callable[[], Any], device: torch.device) -> float:
    sync(device)
    t0 = time.perf_counter()
    fn()
    sync(device)
    return time.perf_counter() - t0


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


# -- peak memory ---------------------------------------------------------------
def _status_kib(field: str) -> int:
    text = Path("/proc/self/status").read_text()
    match = re.search(rf"^{field}:\s+(\d+) kB", text, re.M)
    return int(match.group(1)) if match else 0


@contextlib.contextmanager
def peak_memory(device: torch.device) -> Iterator[dict[str, float]]:
    """Peak memory of the block in MiB: the allocator peak on CUDA; on the CPU the
    peak resident set (VmHWM, reset through /proc/self/clear_refs) and its rise over
    the resident set at the start (freed memory that malloc kept is reused, not counted)."""
    out: dict[str, float] = {}
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        yield out
        out["cuda_peak_mib"] = torch.cuda.max_memory_allocated(device) / 2**20
        return
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")
    start = _status_kib("VmRSS")
    yield out
    peak = _status_kib("VmHWM")
    out["rss_peak_mib"] = peak / 1024
    out["rss_rise_mib"] = max(0, peak - start) / 1024


def cpu_name(cpuinfo: str = "/proc/cpuinfo") -> str:
    """The CPU's model name (``model name`` in `cpuinfo`), else the platform's processor or
    architecture."""
    with contextlib.suppress(OSError):
        match = re.search(r"^model name\s*:\s*(.+)$", Path(cpuinfo).read_text(), re.M)
        if match:
            return match.group(1).strip()
    return platform.processor() or platform.machine()


def machine() -> dict[str, Any]:
    """What every generated table names: CPU model and cores, whether the CPU computes bf16
    natively (else autocast emulates it), GPU, torch, threads and the load at start."""
    cuda = torch.cuda.is_available()
    return {
        "cpu": cpu_name(),
        "cpu_bf16": "native" if cpu_has_native_bf16() else "emulated",
        "cpu_cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "gpu": torch.cuda.get_device_name(0) if cuda else None,
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


class LogTimes:
    """A plugin that timestamps the runner's ``diffkit_log`` calls, to time training
    through the real runner without its sampling or checkpoint work."""

    def __init__(self) -> None:
        self.marks: list[tuple[int, float]] = []

    @hookimpl
    def diffkit_log(self, run: Any, step: int, metrics: dict[str, float]) -> None:
        self.marks.append((step, time.perf_counter()))

    def seconds_per_step(self, skip: int = 0) -> float:
        """Seconds per step between the first and the last log, after `skip` warm-up logs."""
        marks = self.marks[skip:]
        if len(marks) < 2:
            raise RuntimeError(f"need two log points after skipping {skip}, got {len(marks)}")
        (s0, t0), (s1, t1) = marks[0], marks[-1]
        return (t1 - t0) / (s1 - s0)
