"""``RUN/provenance.json``: what a reader needs to reproduce a run and to know which of
its numbers compare with another run's.

Written atomically when the run starts (`write_start`: versions, git state,
plugins, hardware, precision, world size, batch) and updated when it ends or is
evaluated (`write_end`: images seen, wall time, and per metric result key its
sampler, NFE, sample count, feature space, reference hash and the EMA weights used).
``diffkit compare`` reads it (``diffkit.sweep.comparable``).
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import torch

from diffkit.runner import rundir

PROVENANCE = "provenance.json"


def git_state(path: Path) -> dict[str, Any] | None:
    """{"commit", "dirty"} of the git work tree holding `path`; None outside git (or without git)."""
    try:
        commit = subprocess.run(
            ["git", "-C", str(path), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10, check=False
        )
        if commit.returncode != 0:
            return None
        status = subprocess.run(
            ["git", "-C", str(path), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": commit.stdout.strip(), "dirty": bool(status.stdout.strip())}


def cpu() -> dict[str, Any]:
    """The CPU model and whether it does bf16 natively (AVX512-BF16 or AMX)."""
    model, flags = platform.processor() or platform.machine(), set[str]()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and model in ("", platform.machine(), platform.processor()):
                model = value.strip()
            elif key.strip() == "flags" and not flags:
                flags = set(value.split())
    except OSError:
        pass
    return {
        "model": model,
        "cores": os.cpu_count(),
        "bf16_native": bool(flags & {"avx512_bf16", "amx_bf16"}),
        "flags": sorted(flags & {"avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile", "fma"}),
    }


def hardware(device: torch.device) -> dict[str, Any]:
    out: dict[str, Any] = {"device": str(device), "cpu": cpu()}
    if device.type == "cuda":
        out["gpu"] = torch.cuda.get_device_name(device)
        out["gpus_visible"] = torch.cuda.device_count()
    return out


def plugins_of(plugins: Any) -> list[dict[str, str]]:
    """Each loaded plugin's name, distribution and version (from the plugin manager)."""
    return [
        {"plugin": p.name, "dist": p.dist, "version": p.version, "source": p.source}
        for p in getattr(plugins, "loaded", [])
    ]


def collect(cfg: Any, plugins: Any, *, device: torch.device, precision: str, world_size: int) -> dict[str, Any]:
    """Everything known when a run starts, as a JSON-ready dict."""
    from diffkit.version import __version__

    batch = int(cfg.data.batch_size)
    accumulate = int(cfg.train.get("accumulate", 1) or 1)
    source = Path(__file__).resolve().parents[2]
    return {
        "diffkit": __version__,
        "project": {"dir": os.getcwd(), "git": git_state(Path.cwd())},
        "diffkit_source": {"dir": str(source), "git": git_state(source)},
        "plugins": plugins_of(plugins),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "hardware": hardware(device),
        "precision": precision,
        "world_size": world_size,
        "batch": {"per_device": batch, "accumulate": accumulate, "effective": batch * accumulate * world_size},
        "seed": int(cfg.seed),
        "command": sys.argv,
    }


def write_start(
    run_dir: Path, cfg: Any, plugins: Any, *, device: torch.device, precision: str, world_size: int
) -> None:
    """Write the start record (keeping a resumed run's earlier wall time and evaluation)."""
    path = Path(run_dir) / PROVENANCE
    old = rundir.read_json(path)
    record = collect(cfg, plugins, device=device, precision=precision, world_size=world_size)
    record["wall_time_s"] = float(old.get("wall_time_s", 0.0))
    record["started"] = time.time()
    record["sessions"] = int(old.get("sessions", 0)) + 1
    for key in ("metrics", "evaluation", "images_seen", "step"):
        if key in old:
            record[key] = old[key]
    rundir.write_json(path, record)


def write_end(run_dir: Path, *, step: int | None = None, evaluation: dict[str, Any] | None = None) -> None:
    """Update the record at the end of training (`step`: images seen = step x effective
    batch, wall time) and/or after an evaluation (`evaluation`: from
    `Evaluator.provenance`, replacing an earlier evaluation's)."""
    path = Path(run_dir) / PROVENANCE
    record = rundir.read_json(path)
    if step is not None:
        record["step"] = int(step)
        record["images_seen"] = int(step) * int(record.get("batch", {}).get("effective", 0))
        if "started" in record:
            record["wall_time_s"] = float(record.get("wall_time_s", 0.0)) + time.time() - float(record.pop("started"))
    if evaluation is not None:
        record["metrics"] = evaluation.get("metrics", {})
        record["evaluation"] = {k: v for k, v in evaluation.items() if k != "metrics"}
    rundir.write_json(path, record)


def evaluation(
    measured: dict[str, Any], *, ema: bool, sets: list[dict[str, Any]] | None = None, seeds: list[int] | None = None
) -> dict[str, Any]:
    """The evaluation record: `measured` (``Evaluator.provenance`` of the last sample set)
    with the EMA flag on every metric, and with K > 1 sample sets (``eval --repeats``)
    each metric's K values and their sampling seeds, which ``diffkit compare`` uses to
    keep evaluation variance apart from training variance."""
    metrics = {k: {**v, "ema": ema} for k, v in measured.get("metrics", {}).items()}
    out: dict[str, Any] = {"metrics": metrics, "ema": ema}
    if sets and len(sets) > 1:
        out["repeats"] = len(sets)
        out["sets"] = {k: [float(s[k]) for s in sets] for k in metrics if all(k in s for s in sets)}
        out["seeds"] = list(seeds or [])
    return out


def set_seeds(seed: int, repeats: int, num: int, batch_size: int) -> list[int]:
    """The sampling seeds of `repeats` sample sets of `num` images: batch i of a set drawn
    from seed s uses seed s + i, so set k starts where set k-1's batches end
    (seed + k * ceil(num / batch_size)) and no two sets share a noise batch."""
    stride = -(-num // batch_size)
    return [seed + k * stride for k in range(repeats)]
