"""Checks of a whole config before anything runs (no data, no network).

Known-broken combinations raise `ConfigError` (the CLI exits 2 with that one
line); legal but suspicious ones come back as warning lines, which ``diffkit config``
and ``diffkit train`` print and a run keeps (``warnings.txt``, TensorBoard text). Each
run of a sweep is a ``diffkit train`` and so sees them too. Plugins add checks of their
own components through the ``diffkit_check_config`` hook.
"""

from __future__ import annotations

import math
import sys
from typing import TYPE_CHECKING

from omegaconf import DictConfig

from diffkit.config import to_dict
from diffkit.errors import ConfigError
from diffkit.interfaces import NoiseProcess, Scheduler
from diffkit.runner.device import precision_warning, resolve_device
from diffkit.runner.ema import check_ema

if TYPE_CHECKING:
    from diffkit.plugin_manager import Plugins

#: abar at t = T-1 above this leaves sqrt(abar) > 0.03 of the image in x_T, while sampling starts from N(0, I).
ABAR_T_MAX = 1e-3


def check_schedule(scheduler: NoiseProcess) -> list[str]:
    """Refuse eps-prediction under zero terminal SNR; warn when x_T is far from pure noise.
    Discrete chains only: a continuous process's samplers start from its own prior."""
    if not isinstance(scheduler, Scheduler):
        return []
    abar_last = float(scheduler.alphas_cumprod[-1])
    if abar_last == 0 and scheduler.prediction_type == "eps":
        raise ConfigError(
            "scheduler.rescale_zero_terminal_snr=true needs scheduler.prediction_type=v (Lin et al. 2023): "
            "at zero SNR x0 = (x_T - eps) / 0 cannot be recovered from an eps-prediction"
        )
    if abar_last > ABAR_T_MAX:
        return [
            f"scheduler: abar at t=T-1 is {abar_last:.3g}, so x_T keeps {math.sqrt(abar_last):.2g} of the image "
            "while sampling starts from pure noise N(0, I); raise scheduler.num_timesteps or beta_end, "
            "or use scheduler.name=cosine"
        ]
    return []


def check(cfg: DictConfig, plugins: Plugins) -> list[str]:
    """Raise ConfigError for a known-broken `cfg`; return one line per suspicious setting."""
    scheduler_node = to_dict(cfg.scheduler)
    warnings = check_schedule(plugins.registry.build("scheduler", scheduler_node, where="scheduler"))
    warnings += check_ema(plugins.registry, cfg)
    try:
        line = precision_warning(resolve_device(cfg.train.device), cfg.train.precision)
    except ConfigError:  # a device missing here: `diffkit config` still prints, `train` refuses later
        line = None
    warnings += [line] if line else []
    for found in plugins.hooks().diffkit_check_config(cfg=cfg, registry=plugins.registry):
        warnings += list(found or [])
    return warnings


def report(warnings: list[str]) -> None:
    """Print each warning as one ``diffkit: warning:`` line on stderr."""
    for line in warnings:
        print(f"diffkit: warning: {line}", file=sys.stderr)
