"""Compute efficiency of the shipped CPU recipe: the fraction of this CPU's matmul peak that
its training step reaches.

The work of one step (forward and backward of the denoiser at the recipe's batch, image size
and precision) is counted by ``torch.utils.flop_counter.FlopCounterMode`` (matmuls and
convolutions: 2 FLOPs per multiply-add); its time is the median of blocks of real runner
steps (``diffkit.train`` with the recipe, timed between log calls). The peak is the best of
several large square matmuls in the same precision and threads, in the same process.

    python -m benchmarks.efficiency [--config configs/cpu/fashion_mnist.yaml] [--steps 40]
                                    [--set KEY=VALUE ...] [--doc PATH]

JSON on stdout; the table replaces the ``efficiency`` section of docs/performance.md
(``--doc -``: none).
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch.utils.flop_counter import FlopCounterMode

from benchmarks import report
from benchmarks.common import LogTimes, load, machine, median, quiet_overrides
from diffkit.runner.build import build_components
from diffkit.runner.device import autocast, resolve_device, resolve_precision

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "performance.md"
CONFIG = "configs/cpu/fashion_mnist.yaml"
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}


def step_flops(overrides: Sequence[str], config: str) -> dict[str, Any]:
    """FLOPs of one forward + backward of the config's denoiser at its batch and precision."""
    composed, plugins = load(overrides, config)
    cfg = composed.cfg
    device = resolve_device(cfg.train.device)
    precision = resolve_precision(device, cfg.train.precision)
    parts = build_components(plugins.registry, cfg, 1)
    model = parts.denoiser.to(device).train()
    b, size = int(cfg.data.batch_size), int(cfg.data.image_size)
    x = torch.randn(b, 1, size, size, device=device)
    t = torch.rand(b, device=device)
    if parts.scheduler.discrete:
        t = (t * parts.scheduler.num_timesteps).long().clamp(max=parts.scheduler.num_timesteps - 1)
    counter = FlopCounterMode(display=False)
    with counter, autocast(device, precision):
        model(x, t).float().square().mean().backward()
    return {
        "flops_per_step": int(counter.get_total_flops()),
        "batch": b,
        "image_size": size,
        "precision": precision,
        "parameters": sum(p.numel() for p in model.parameters()),
    }


def matmul_peak(precision: str, n: int = 2048, repeats: int = 5) -> float:
    """FLOP/s of the best of `repeats` n x n matmuls in `precision` (after one warm-up)."""
    a = torch.randn(n, n, dtype=DTYPES.get(precision, torch.float32))
    b = torch.randn(n, n, dtype=a.dtype)
    a @ b
    best = min(_seconds(lambda: a @ b) for _ in range(repeats))
    return 2 * n**3 / best


def _seconds(fn: Any) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def step_seconds(overrides: Sequence[str], config: str, steps: int, block: int) -> dict[str, Any]:
    """Seconds per runner step: the median over blocks of `block` steps (the first block skipped)."""
    import diffkit

    timer = LogTimes()
    with tempfile.TemporaryDirectory() as tmp:
        diffkit.train(
            config, [*overrides, "eval.metrics=[]", *quiet_overrides(Path(tmp) / "run", steps, block)], plugins=[timer]
        )
    marks = timer.marks
    per_block = [(t1 - t0) / (s1 - s0) for (s0, t0), (s1, t1) in zip(marks[1:], marks[2:])]
    return {"seconds_per_step": median(per_block), "spread": [min(per_block), max(per_block)], "blocks": len(per_block)}


def section(res: dict[str, Any]) -> str:
    m = res["machine"]
    f, s = res["flops"], res["speed"]
    achieved = f["flops_per_step"] / s["seconds_per_step"]
    return "\n".join(
        [
            "## Compute efficiency of the CPU recipe",
            "",
            f"Measured with `{res['command']}` on {m['cpu_cores']} CPU cores ({m['cpu']}, bf16 {m['cpu_bf16']}), "
            f"torch {m['torch']}, {m['torch_threads']} torch thread(s), load average at start {m['load_average']}. "
            "Work per step from `torch.utils.flop_counter` (forward + backward of the denoiser: matmuls and "
            "convolutions, 2 FLOPs per multiply-add); time per step: the median over blocks of real runner "
            "steps [fastest, slowest block]; peak: the best 2048 x 2048 matmul in the same precision and threads.",
            "",
            "| config | precision | batch | params | GFLOP / step | s / step | achieved GFLOP/s | "
            "matmul peak GFLOP/s | fraction of peak |",
            "|---|---|---|---|---|---|---|---|---|",
            f"| `{res['config']}` | {f['precision']} | {f['batch']} | {f['parameters'] / 1e6:.2f}M | "
            f"{f['flops_per_step'] / 1e9:.2f} | {s['seconds_per_step']:.3f} "
            f"[{s['spread'][0]:.3f}, {s['spread'][1]:.3f}] | {achieved / 1e9:.1f} | {res['peak'] / 1e9:.1f} | "
            f"**{res['fraction']:.2f}** |",
        ]
    )


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.efficiency", description=__doc__.split("\n")[0])
    p.add_argument("--config", default=CONFIG)
    p.add_argument("--steps", type=int, default=40, help="runner steps timed (in blocks of 5)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--doc", default=str(DOC), help="Markdown file whose 'efficiency' section gets the table")
    args = p.parse_args(argv)
    config = str(ROOT / args.config)
    where = machine()
    overrides = ["train.device=cpu", *args.set]
    flops = step_flops(overrides, config)
    speed = step_seconds(overrides, config, args.steps, 5)
    peak = matmul_peak(flops["precision"])
    res = {
        "benchmark": "efficiency",
        "command": shlex.join(["python", "-m", "benchmarks.efficiency", *(argv if argv is not None else sys.argv[1:])]),
        "config": args.config,
        "flops": flops,
        "speed": speed,
        "peak": peak,
        "fraction": flops["flops_per_step"] / speed["seconds_per_step"] / peak,
        "machine": where,
    }
    json.dump(res, sys.stdout, indent=2)
    print()
    if args.doc != "-":
        report.replace_section(Path(args.doc), "efficiency", section(res))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
