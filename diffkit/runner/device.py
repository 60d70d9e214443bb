"""Device, precision and seeding."""

from __future__ import annotations

import contextlib
import random
import re

import numpy as np
import torch

from diffkit.errors import ConfigError


DEVICE = re.compile(r"auto|cpu|cuda(:\d+)?|mps")


def resolve_device(name: str, option: str = "train.device") -> torch.device:
    """"auto" -> cuda when available, else cpu; a malformed or unavailable device is a
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


def check_precision(device: torch.device, precision: str) -> None:
    """fp16 needs CUDA (its gradient scaler does); bf16 and fp32 run anywhere."""
    if precision == "fp16" and device.type != "cuda":
        raise ConfigError(f"train.precision=fp16 needs CUDA, but the device is {device}; use bf16 on the CPU")


def autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    """bf16 autocast on CPU or CUDA, fp16 autocast on CUDA, nothing for fp32."""
    if precision == "fp32":
        return contextlib.nullcontext()
    check_precision(device, precision)
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    return torch.autocast(device_type=device.type, dtype=dtype)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
