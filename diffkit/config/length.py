"""How long a run trains: ``train.steps`` (optimizer steps) or ``train.budget`` (a wall-clock
duration such as ``90s``, ``2m``, ``1.5h``, or a number of training images such as ``300000img``).

Exactly one of the two is in effect. A later layer replaces an earlier one (``diffkit train
FILE train.budget=2m`` trains for two minutes although FILE sets ``train.steps``); setting both
in the same layer is an error. The one replaced becomes null in the composed config, so the
saved ``config.yaml`` says which one the run used; a budget that replaces steps keeps the
warm-up's share of them (``optim.warmup_fraction`` = warmup_steps / steps, unless set). The runner turns a budget into steps
(``diffkit/runner/budget.py``).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Protocol

from omegaconf import DictConfig, OmegaConf

from diffkit.errors import ConfigError


class Composed(Protocol):
    """What `resolve_length` reads and changes of ``diffkit.config.compose.Composed``."""

    cfg: DictConfig
    sources: dict[str, str]
    notes: list[str]


#: seconds per unit of a duration; ``img`` counts training images.
UNITS = {"s": 1.0, "sec": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "img": 1.0}
_BUDGET = re.compile(r"\s*([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*([a-z]+)\s*")
ALLOWED = "a duration such as 90s, 2m or 1.5h, or a number of training images such as 300000img"


@dataclass(frozen=True)
class Budget:
    """A parsed ``train.budget``: `kind` "seconds" or "images", `amount` of them, `text` as written."""

    kind: str
    amount: float
    text: str


def parse_budget(value: object, key: str = "train.budget") -> Budget:
    """``"2m"`` -> Budget("seconds", 120.0, "2m"); ``"300000img"`` -> Budget("images", 300000, ...).
    Raise a one-line ConfigError naming `key` for anything else (a bare number has no unit)."""
    text = str(value)
    match = _BUDGET.fullmatch(text.lower())
    unit = match.group(2) if match else ""
    if match is None or unit not in UNITS:
        raise ConfigError(f"{key}={value!r} is not allowed; use {ALLOWED}")
    amount = float(match.group(1)) * UNITS[unit]
    kind = "images" if unit == "img" else "seconds"
    if not math.isfinite(amount) or amount <= 0 or (kind == "images" and amount != int(amount)):
        raise ConfigError(f"{key}={value!r} is not allowed; use {ALLOWED} (> 0; images a whole number)")
    return Budget(kind, amount, text.strip())


def is_budget(value: object) -> bool:
    try:
        parse_budget(value)
    except ConfigError:
        return False
    return True


def resolve_length(composed: Composed, layers: list[str]) -> None:
    """Keep one of ``train.steps`` and ``train.budget`` in ``composed.cfg``: the one set by
    the later of `layers` (sources in merge order); null the other and add a note. Both set
    in one layer: ConfigError."""
    cfg, sources = composed.cfg, composed.sources
    steps, budget = cfg.train.steps, cfg.train.budget
    if budget is None:
        if steps is None:
            raise ConfigError(
                "train.steps and train.budget are both null; set one (e.g. train.steps=1200 or train.budget=2m)"
            )
        return
    if steps is None:
        return
    rank = {name: i for i, name in enumerate(layers)}
    # the key itself, not its section: a layer that sets other train keys did not set this one
    where_steps, where_budget = sources.get("train.steps", "defaults"), sources.get("train.budget", "defaults")
    r_steps, r_budget = rank.get(where_steps, -1), rank.get(where_budget, -1)
    if r_steps == r_budget:
        raise ConfigError(
            f"train.steps={steps} and train.budget={budget!r} are both set ({where_budget}); "
            "set one: train.budget sizes the steps itself"
        )
    later, earlier = ("budget", "steps") if r_budget > r_steps else ("steps", "budget")
    if later == "budget" and cfg.optim.warmup_fraction is None and cfg.optim.warmup_steps:
        # keep the schedule's shape: the warm-up's share of the steps the budget replaces
        OmegaConf.update(cfg, "optim.warmup_fraction", round(min(0.5, cfg.optim.warmup_steps / steps), 6))
        sources["optim.warmup_fraction"] = sources.get("train.budget", "defaults")
    OmegaConf.update(cfg, f"train.{earlier}", None)
    sources[f"train.{earlier}"] = sources.get(f"train.{later}", "defaults")
    if r_steps >= 0 and r_budget >= 0:  # a default replaced is not worth a note
        value = budget if later == "budget" else steps
        composed.notes.append(
            f"train.{later}={value} ({sources[f'train.{later}']}) replaces train.{earlier} "
            f"from {where_steps if earlier == 'steps' else where_budget}"
        )
