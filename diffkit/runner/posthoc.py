"""Scores of a run at post-hoc EMA lengths: each length's weights are rebuilt from the
run's snapshots (``diffkit.ema_snapshots``) and scored like the run's own weights.

Results are stored flat beside the run's other metrics, every score of length 0.08
under its key suffixed with ``@ema0.08`` (`key`: ``eval/fid@ema0.08``,
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
        raise ConfigError(
            f"{option} {text!r}: give relative EMA lengths separated by commas, e.g. 0.05,0.08,0.12"
        ) from None
    if not lengths:
        raise ConfigError(f"{option} {text!r}: give at least one relative EMA length, e.g. 0.08")
    for s in lengths:
        try:
            sigma_rel_to_gamma(s)
        except ConfigError as e:
            raise ConfigError(f"{option}: {e}") from None
    return lengths


def lengths_of(ema: float | str | Sequence[float] | None, option: str = "ema") -> list[float]:
    """`ema` as a list of checked lengths: None -> [], 0.08 -> [0.08], "0.05,0.08" -> [0.05, 0.08]."""
    if ema is None:
        return []
    if isinstance(ema, str):
        return parse_lengths(ema, option)
    values = [ema] if isinstance(ema, (int, float)) else list(ema)
    return parse_lengths(",".join(repr(float(v)) for v in values), option)


class Weights:
    """A denoiser switched between its own weights (the checkpoint's) and the post-hoc EMA
    of a length, rebuilt from the snapshots of `run_dir` up to step `up_to`."""

    def __init__(self, denoiser: nn.Module, run_dir: Path, up_to: int | None = None) -> None:
        self.denoiser, self.run_dir, self.up_to = denoiser, Path(run_dir), up_to
        self.current: float | None = None
        self.own: dict[str, Any] | None = None

    def use(self, sigma_rel: float | None) -> nn.Module:
        """The denoiser holding the EMA of length `sigma_rel` (None: its own weights)."""
        if sigma_rel != self.current:
            if self.own is None:
                self.own = {k: v.detach().clone() for k, v in self.denoiser.state_dict().items()}
            weights = self.own if sigma_rel is None else load_ema_weights(self.run_dir, sigma_rel, self.up_to)
            self.denoiser.load_state_dict(weights)
            self.current = sigma_rel
        return self.denoiser


def score_lengths(
    weights: Weights, lengths: Sequence[float], score: Callable[[nn.Module], dict[str, Any]]
) -> dict[str, Any]:
    """`score` of the denoiser holding each length's EMA in turn, as one flat dict of suffixed keys."""
    out: dict[str, Any] = {}
    for sigma_rel in lengths:
        scores = score(weights.use(sigma_rel))
        out.update({key(name, sigma_rel): value for name, value in scores.items()})
    return out


def merge_lengths(
    stored: dict[str, Any],
    scores: dict[str, Any],
    lengths: Sequence[float],
    merge: Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]],
) -> dict[str, Any]:
    """`stored` with the suffixed `scores` of `lengths` merged in, each length by `merge` on
    its unsuffixed keys (so an earlier evaluation's repeat keys of that length are replaced
    and the run's other scores are kept)."""
    out = {k: v for k, v in stored.items() if split(k)[1] not in lengths}
    for s in lengths:
        old = {split(k)[0]: v for k, v in stored.items() if split(k)[1] == s}
        new = {split(k)[0]: v for k, v in scores.items() if split(k)[1] == s}
        out.update({key(k, s): v for k, v in merge(old, new).items()})
    return out


def rows(scores: dict[str, Any], lengths: Sequence[float]) -> tuple[list[str], list[list[Any]]]:
    """(header, one row per length) of the suffixed `scores`, for printing."""
    metrics = list(dict.fromkeys(split(k)[0] for k in scores if split(k)[1] is not None))
    table = [[f"{s:g}", *(scores.get(key(m, s)) for m in metrics)] for s in lengths]
    return ["ema", *metrics], table
