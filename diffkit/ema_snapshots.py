"""Post-hoc EMA snapshots on disk (``RUN/ema_snapshots/step_N.pt``) and the weights of
any EMA length rebuilt from them (`load_ema_weights`).

A snapshot holds, at optimizer step N, the power-function averages a ``power`` EMA
tracks (one per sigma_rel), in a compact dtype. Files are written atomically
(``diffkit.atomic``), so a kill leaves only a hidden ``.step_N.pt.*.tmp`` that no
reader lists; rotation removes those and, with ``keep_snapshots``, the oldest files.
"""

from __future__ import annotations

import re
import sys
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from diffkit.checkpoint import save_atomic
from diffkit.errors import CheckpointError
from diffkit.posthoc_ema import pairs, sigma_rel_to_gamma, solve_weights

SNAPSHOTS = "ema_snapshots"
FORMAT = "diffkit-ema-snapshot-1"
_NAME = re.compile(r"step_(\d+)\.pt$")


def listed(directory: Path) -> list[Path]:
    """The complete snapshot files ``step_N.pt`` in `directory`, oldest first (temporary files never)."""
    found = [(int(m.group(1)), p) for p in Path(directory).glob("step_*.pt") if (m := _NAME.fullmatch(p.name))]
    return [p for _, p in sorted(found)]


def save(directory: Path, step: int, record: dict[str, Any], keep: int = 0) -> Path:
    """Write `record` (``sigma_rels``, ``gammas``, ``params``, ``averages``) as the snapshot of
    `step`; keep the newest `keep` files (0: all) and delete temporary files of killed writers."""
    directory = Path(directory)
    path = directory / f"step_{step:07d}.pt"
    save_atomic({"format": FORMAT, "step": int(step), **record}, path)
    if keep > 0:
        for old in listed(directory)[:-keep]:
            old.unlink(missing_ok=True)
    for stale in directory.glob(".*.tmp"):
        stale.unlink(missing_ok=True)
    return path


def load(path: Path) -> dict[str, Any]:
    """One snapshot, memory-mapped (tensors are read when used); CheckpointError when the
    file is truncated, corrupt or not a snapshot."""
    try:
        with zipfile.ZipFile(path) as archive:
            if archive.testzip() is not None:
                raise zipfile.BadZipFile("a member fails its CRC check")
        state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except (zipfile.BadZipFile, RuntimeError, EOFError, OSError, ValueError) as e:
        raise CheckpointError(f"{path} is truncated or corrupt: {e}") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a diffkit post-hoc EMA snapshot")
    return state


def readable(run_dir: Path, up_to: int | None = None) -> list[tuple[Path, dict[str, Any]]]:
    """(path, snapshot) of every loadable snapshot of the run (steps <= `up_to` when given);
    a corrupt file is skipped with a warning."""
    out = []
    for path in listed(Path(run_dir) / SNAPSHOTS):
        try:
            snap = load(path)
        except CheckpointError as e:
            print(f"diffkit: warning: skipping {e}", file=sys.stderr)
            continue
        if up_to is None or snap["step"] <= up_to:
            out.append((path, snap))
    return out


def snapshot_weights(
    run_dir: Path, sigma_rels: Sequence[float], up_to: int | None = None
) -> tuple[list[tuple[Path, dict[str, Any]]], np.ndarray]:
    """The run's snapshots (those of steps <= `up_to`, when given) and the weights x
    (n_averages, k) that rebuild each target profile (`sigma_rels`) at the last of them."""
    snaps = readable(run_dir, up_to)
    if not snaps:
        raise CheckpointError(
            f"no post-hoc EMA snapshots in {Path(run_dir) / SNAPSHOTS}; train with ema.name=power to record them"
        )
    steps, gammas = pairs((s["step"], s["gammas"]) for _, s in snaps)
    target = float(snaps[-1][1]["step"])
    x = solve_weights(steps, gammas, target, [sigma_rel_to_gamma(s) for s in sigma_rels])
    return snaps, x


def load_ema_weights(run_dir: Path, sigma_rel: float, up_to: int | None = None) -> dict[str, torch.Tensor]:
    """The state dict of the EMA of length `sigma_rel` at the run's last snapshot (the last
    of steps <= `up_to`, e.g. a checkpoint's step, when given), rebuilt as sum_i x_i theta_i over the snapshots' averages theta_i, read one
    snapshot at a time (memory: the float32 sum and one snapshot). Parameters are summed;
    buffers (e.g. BatchNorm statistics) are those of the last snapshot."""
    snaps, x = snapshot_weights(run_dir, [sigma_rel], up_to)
    total: dict[str, torch.Tensor] = {}
    row = 0
    for _, snap in snaps:
        for average in snap["averages"]:
            weight = float(x[row, 0])
            row += 1
            for key in snap["params"]:
                value = average[key].to(torch.float32)
                if key in total:
                    total[key].add_(value, alpha=weight)
                else:
                    total[key] = value * weight
    last = snaps[-1][1]["averages"][0]
    return {key: total[key] if key in total else value.clone() for key, value in last.items()}
