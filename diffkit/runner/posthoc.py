"""Scores of a run at post-hoc EMA lengths: each length's weights are rebuilt from the
run's snapshots (``diffkit.ema_snapshots``) and scored like the run's own weights.

Results are stored flat beside the run's other metrics, every score of length 0.08
under its key suffixed with ``@ema0.08`` (:func:`key`: ``eval/fid@ema0.08``,
``eval/sampler@ema0.08``, ...), so a length's scores never mix with another's or with
those of the run's own EMA. ``diffkit compare`` turns each length into a row of its own,
with the hyperparameter ``ema.sigma_rel`` (``diffkit.sweep.posthoc``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from torch import nn

from diffkit.ema_snapshots import load_ema_weights
from diffkit.errors import ConfigError
from diffkit.posthoc_ema import sigma_rel_to_gamma

#: the separator between a metric and its EMA length.
MARK = "@ema"
_KEY = re.compile(rf"^(?P<metric>.+){MARK}(?P<length>[0-9.eE+-]+)$")


def key(metric: str, sigma_rel: float) -> str:
    """``eval/fid``, 0.08 -> ``eval/fid@ema0.08``."""
    return f"{metric}{MARK}{sigma_rel:g}"


def split(name: str) -> tuple[str, float | None]:
    """``eval/fid@ema0.08`` -> (``eval/fid``, 0.08); a key without a length -> (key, None)."""
    m = _KEY.match(name)
    if not m:
        return name, None
    try:
        return m["metric"], float(m["length"])
    except ValueError:
        return name, None


def parse_lengths(text: str, option: str = "--ema") -> list[float]:
    """``"0.05,0.08"`` -> [0.05, 0.08], each checked to be a power-function EMA's sigma_rel."""
    try:
        lengths = [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ConfigError(f"{option} {text!r}: give relative EMA lengths separated by commas, e.g. 0.05,0.08,0.12") from None
    if not lengths:
        raise ConfigError(f"{option} {text!r}: give at least one relative EMA length, e.g. 0.08")
    for s in lengths:
        try:
            sigma_rel_to_gamma(s)
        except ConfigError as e:
            raise ConfigError(f"{option}: {e}") from None
    return lengths


def use_length(denoiser: nn.Module, run_dir: Path, sigma_rel: float, up_to: int | None = None) -> nn.Module:
    """Load the EMA of length `sigma_rel` (from snapshots up to step `up_to`) into `denoiser`."""
    denoiser.load_state_dict(load_ema_weights(run_dir, sigma_rel, up_to))
    return denoiser


def score_lengths(run_dir: Path, denoiser: nn.Module, lengths: Sequence[float], up_to: int | None,
                  score: Callable[[nn.Module], dict[str, Any]]) -> dict[str, Any]:
    """`score` of `denoiser` holding each length's EMA in turn, as one flat dict of suffixed keys."""
    out: dict[str, Any] = {}
    for sigma_rel in lengths:
        scores = score(use_length(denoiser, run_dir, sigma_rel, up_to))
        out.update({key(name, sigma_rel): value for name, value in scores.items()})
    return out


def rows(scores: dict[str, Any], lengths: Sequence[float]) -> tuple[list[str], list[list[Any]]]:
    """(header, one row per length) of the suffixed `scores`, for printing."""
    metrics = list(dict.fromkeys(split(k)[0] for k in scores if split(k)[1] is not None))
    table = [[f"{s:g}", *(scores.get(key(m, s)) for m in metrics)] for s in lengths]
    return ["ema", *metrics], table
