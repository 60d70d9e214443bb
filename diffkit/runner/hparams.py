"""The flat hyperparameters of a run (``RunContext.hparams``): what trackers and
comparison tables show, with every component parameter, set or left at its default."""

from __future__ import annotations

from typing import Any

from diffkit.config import hparams


def run_hparams(config: dict[str, Any], components: dict[str, dict[str, Any] | None]) -> dict[str, Any]:
    """`config` as ``config.hparams`` flattens it, where each component section also holds
    the parameters its component was built with at their defaults (`components`:
    section -> ``build_config``, ``{name, **params}``); so a ``scheduler.shift`` left out
    of the config is there at its default value."""
    merged = dict(config)
    for section, record in components.items():
        given = merged.get(section)
        if isinstance(record, dict) and isinstance(given, dict):
            merged[section] = {**record, **given}
    return hparams(merged)
