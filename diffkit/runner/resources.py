"""Memory estimates checked before allocating, so that a too-large request is one clear
error instead of minutes of swapping or the kernel's OOM killer."""

from __future__ import annotations

import os

import torch

from diffkit.errors import ConfigError


def gib(nbytes: float) -> str:
    return f"{nbytes / 2**30:.1f} GiB"


def available_bytes(device: torch.device | None = None) -> int | None:
    """Free memory on `device` (CUDA: the driver's free memory; else the host's
    MemAvailable), or None when it cannot be read."""
    if device is not None and device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[0])
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def check_memory(what: str, nbytes: int, device: torch.device | None = None, hint: str = "") -> None:
    """Raise ConfigError when `what` needs about `nbytes` and less is free."""
    free = available_bytes(device)
    if free is not None and nbytes > free:
        where = f"on {device}" if device is not None and device.type == "cuda" else "of memory"
        raise ConfigError(
            f"{what} needs about {gib(nbytes)} {where}, but {gib(free)} is available" + (f"; {hint}" if hint else "")
        )
