"""Device, precision and seeding."""

from __future__ import annotations

import contextlib
import functools
import random
import re
from pathlib import Path

import numpy as np
import torch

from diffkit.errors import ConfigError

DEVICE = re.compile(r"auto|cpu|cuda(:\d+)?|mps")


def resolve_device(name: str, option: str = "train.device") -> torch.device:
    """ "auto" -> cuda when available, else cpu; a malformed or unavailable device is a
    ConfigError naming `option`, the key or command-line option the user wrote."""
    said = f"{option} {name}" if option.startswith("-") else f"{option}={name}"
    if not isinstance(name, str) or not DEVICE.fullmatch(name):
        raise ConfigError(f"{said} is not a device; use auto, cpu, cuda, cuda:N or mps")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"{said} but CUDA is not available here; use auto or cpu")
    if device.type == "cuda" and (device.index or 0) >= torch.cuda.device_count():
        count = torch.cuda.device_count()
        raise ConfigError(f"{said} but this machine has {count} GPU(s); use cuda:0 to cuda:{count - 1}")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ConfigError(f"{said} but MPS is not available here; use auto or cpu")
    return device


PRECISIONS = ("auto", "fp32", "bf16", "fp16")
#: /proc/cpuinfo flags of CPUs with bf16 arithmetic: x86 AVX512-BF16 and AMX, Arm's BF16 extension.
BF16_CPU_FLAGS = frozenset({"avx512_bf16", "amx_bf16", "bf16"})


@functools.cache
def cpu_has_native_bf16(cpuinfo: str = "/proc/cpuinfo") -> bool:
    """Whether this CPU computes in bf16 natively (else autocast emulates it, many times
    slower than fp32). Read from the `flags`/`Features` lines of `cpuinfo`; False where
    there is none (macOS, Windows)."""
    try:
        text = Path(cpuinfo).read_text()
    except OSError:
        return False
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip().lower() in ("flags", "features") and BF16_CPU_FLAGS & set(value.split()):
            return True
    return False


def resolve_precision(device: torch.device, precision: str) -> str:
    """ "auto" -> the fastest precision the device runs natively: on CUDA bf16 where
    supported, else fp16; on a CPU with native bf16, bf16; otherwise fp32.
    Other values are returned as they are (after `check_precision`)."""
    if precision != "auto":
        check_precision(device, precision)
        return precision
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    if device.type == "cpu" and cpu_has_native_bf16():
        return "bf16"
    return "fp32"


def precision_warning(device: torch.device, precision: str) -> str | None:
    """One line when `precision` is bf16 on a CPU that emulates it, else None."""
    if precision == "bf16" and device.type == "cpu" and not cpu_has_native_bf16():
        return (
            "train.precision=bf16 on a CPU without native bf16 (no AVX512-BF16/AMX): autocast emulates it, "
            "often >10x slower than fp32; use train.precision=auto or fp32"
        )
    return None


def check_precision(device: torch.device, precision: str) -> None:
    """fp16 needs CUDA (its gradient scaler does); bf16 and fp32 run anywhere."""
    if precision == "fp16" and device.type != "cuda":
        raise ConfigError(f"train.precision=fp16 needs CUDA, but the device is {device}; use auto, or bf16 on the CPU")


def autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    """bf16 autocast on CPU or CUDA, fp16 autocast on CUDA, nothing for fp32 (resolve
    "auto" with `resolve_precision` first)."""
    precision = resolve_precision(device, precision)
    if precision == "fp32":
        return contextlib.nullcontext()
    check_precision(device, precision)
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    return torch.autocast(device_type=device.type, dtype=dtype)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
