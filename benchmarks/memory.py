"""Peak memory of training steps or of sampling N images, each case in a fresh process
so that memory freed by an earlier case cannot hide this one's peak.

``python -m benchmarks.memory {train,sample} --batch B [--num N] [--steps S]`` prints
one JSON object: the peak (and its rise over the process after building the model).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from typing import Any

import torch

from benchmarks.common import BASE_32, peak_memory
from benchmarks.throughput import diffkit_case
from diffkit.runner.device import resolve_device


def measure(kind: str, batch: int, num: int, steps: int) -> dict[str, Any]:
    """In a subprocess: the unet 32x32 of the throughput table."""
    cmd = [
        sys.executable,
        "-m",
        "benchmarks.memory",
        kind,
        "--batch",
        str(batch),
        "--num",
        str(num),
        "--steps",
        str(steps),
        "--threads",
        str(torch.get_num_threads()),
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.memory")
    p.add_argument("kind", choices=("train", "sample"))
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--num", type=int, default=16, help="images to sample")
    p.add_argument("--steps", type=int, default=2, help="training steps, or the sampling schedule's T")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    device = resolve_device("auto")
    case = diffkit_case("unet 32x32", BASE_32, args.steps, device)
    if args.kind == "train":
        opt = torch.optim.Adam(case.model.parameters())
        x = torch.rand((args.batch, *case.shape), device=device) * 2 - 1
        with peak_memory(device) as mem:
            for _ in range(args.steps):
                opt.zero_grad(set_to_none=True)
                case.loss(x).backward()
                opt.step()
    else:
        with peak_memory(device) as mem:
            case.sample(args.batch, args.num)
    row = {
        "kind": args.kind,
        "batch": args.batch,
        "num": args.num if args.kind == "sample" else None,
        "steps": args.steps,
        **{k: round(v, 1) for k, v in mem.items()},
    }
    print(json.dumps(row))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
