"""``python -m benchmarks.run [--quick]``: runner overhead, throughput per speed option,
peers side by side and peak memory. Prints JSON; writes tables into docs/performance.md
(sections ``overhead``, ``throughput``, ``switches`` (each switch's ratio to the baseline,
from the throughput rows), ``peers`` (with the ratios in a sentence) and ``memory``)."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from pathlib import Path
from typing import Any

import torch

from benchmarks import memory, overhead, peers, report
from benchmarks.common import BASE_32, OPTIONS, SEED_FULL, machine, median
from benchmarks.throughput import (
    diffkit_case,
    interleaved_sample,
    interleaved_train,
    sample_rate,
    train_rate,
    with_option,
)
from diffkit.runner.device import precision_warning, resolve_device

DOC = Path(__file__).resolve().parents[1] / "docs" / "performance.md"
#: the batch of the peer comparison: that of the unet 32x32 throughput rows, so the two tables agree.
PEER_BATCH = 16
TINY = ["data.image_size=8", "data.batch_size=16", "denoiser.channels=[8,16]", "time_embedding.dim=8"]

#: (name, overrides, train batch, sample batch, options) per network.
NETWORKS = [
    ("unet 32x32", BASE_32, PEER_BATCH, PEER_BATCH, list(OPTIONS)),
    (
        "unet_adm 32x32",
        ["data.image_size=32", "denoiser.name=unet_adm", "denoiser.channels=[64,128,128]"],
        16,
        16,
        list(OPTIONS),
    ),
    ("unet seed full-size 32x32", SEED_FULL, 8, 8, ["baseline", "channels_last", "bf16"]),
]
SETTINGS = {
    "quick": {
        "block": 10,  # as in full mode: 5-step blocks were too short for a stable median
        "pairs": 10,
        "tiny": False,
        "train_steps": 5,
        "sample_steps": 5,
        "repeats": 3,
        "options": ("baseline", "channels_last", "bf16"),
        "networks": 3,
        "skip_emulated": True,
    },
    "full": {
        "block": 10,
        "pairs": 10,
        "tiny": True,
        "train_steps": 10,
        "sample_steps": 10,
        "repeats": 5,
        "options": tuple(OPTIONS),
        "networks": 3,
        "skip_emulated": False,
    },
}


def run_overhead(s: dict[str, Any]) -> list[dict[str, Any]]:
    rows = [overhead.measure([], block=s["block"], pairs=s["pairs"])]
    if s["tiny"]:
        rows.append(overhead.measure(TINY, block=4 * s["block"], pairs=s["pairs"]))
    return rows


def run_throughput(s: dict[str, Any], device: torch.device, registered: set[str]) -> list[dict[str, Any]]:
    rows = []
    for name, overrides, tb, sb, options in NETWORKS[: s["networks"]]:
        denoiser = next((o.split("=")[1] for o in overrides if o.startswith("denoiser.name=")), "unet")
        for option in OPTIONS:
            row: dict[str, Any] = {"network": name, "option": option}
            emulated = option == "bf16" and precision_warning(device, "bf16") is not None
            if emulated:
                row["emulated"] = True  # autocast emulates bf16 on this CPU: many times slower than fp32
            if denoiser not in registered:
                row["skipped"] = f"denoiser {denoiser!r} is not registered"
            elif emulated and s["skip_emulated"]:
                row["skipped"] = "bf16 is emulated on this CPU (no AVX512-BF16/AMX); measured only without --quick"
            elif option not in options or option not in s["options"]:
                row["skipped"] = "not in this mode (torch.compile takes minutes to compile on 2 CPU cores)"
            else:
                row.update(_measure_option(overrides, option, tb, sb, s, device))
            rows.append(row)
            print(f"benchmarks: throughput {name} {option}: {row.get('skipped') or row['train']}", file=sys.stderr)
    return rows


def _measure_option(
    overrides: list[str], option: str, tb: int, sb: int, s: dict[str, Any], device: torch.device
) -> dict[str, Any]:
    case, ctx = with_option(diffkit_case("diffkit", overrides, s["sample_steps"], device), option, device)
    warmup = 2 if option == "compile" else 1
    return {
        "parameters": case.parameters,
        "switch": " ".join(OPTIONS[option]),
        "train_batch": tb,
        "train": train_rate(
            case, tb, s["train_steps"], warmup, device, ctx, option == "channels_last", blocks=s["repeats"]
        ),
        "sample_batch": sb,
        "sample_steps": s["sample_steps"],
        "sample": sample_rate(case, sb, s["repeats"], device, ctx),
    }


def run_peers(s: dict[str, Any], device: torch.device) -> list[dict[str, Any]]:
    """diffkit's unet 32x32 and each installed peer's network of the same size, fp32, batch
    16, the same threads: training blocks and sample draws alternate between the two, and
    each ratio is the median over those pairs (with the slowest and fastest pair)."""
    b, steps = PEER_BATCH, s["sample_steps"]
    ours = diffkit_case("diffkit unet 32x32", BASE_32, steps, device)
    rows = []
    for peer, build in peers.BUILDERS.items():
        row: dict[str, Any] = {"network": "unet 32x32", "peer": peer}
        if not peers.installed(peer):
            row["skipped"] = f"{peer} is not installed (pip install {peer})"
            print(f"benchmarks: peers: {row['skipped']}", file=sys.stderr)
            rows.append(row)
            continue
        theirs = build(ours.parameters, 32, steps, device)
        train = interleaved_train([ours, theirs], b, s["train_steps"], 1, device, s["pairs"])
        sample = interleaved_sample([ours, theirs], b, max(3, s["repeats"]), device)
        row.update(
            {
                "parameters": [ours.parameters, theirs.parameters],
                "batch": b,
                "precision": "fp32",
                "threads": torch.get_num_threads(),
                "train_steps_per_block": s["train_steps"],
                "train_pairs": len(train[0]),
                "sample_steps": steps,
                "sample_pairs": len(sample[0]),
                "train": [round(b * s["train_steps"] / median(t), 3) for t in train],
                "sample": [round(b / median(t), 3) for t in sample],
            }
        )
        for kind, times in (("train", train), ("sample", sample)):
            ratios = sorted(theirs_t / ours_t for ours_t, theirs_t in zip(*times))
            row[f"{kind}_ratio"] = round(median(ratios), 3)
            row[f"{kind}_ratio_spread"] = [round(ratios[0], 3), round(ratios[-1], 3)]
        print(f"benchmarks: peers {peer}: train x{row['train_ratio']} sample x{row['sample_ratio']}", file=sys.stderr)
        rows.append(row)
    return rows


def run_memory(s: dict[str, Any]) -> list[dict[str, Any]]:
    """unet 32x32 in fresh processes: training at batch 16, and 64 images sampled in
    batches of 16 and of 64 (intermediates of one batch at a time)."""
    rows = [memory.measure("train", 16, 0, s["train_steps"])]
    rows += [memory.measure("sample", b, 64, s["sample_steps"]) for b in (16, 64)]
    return rows


def _null() -> contextlib.AbstractContextManager:
    return contextlib.nullcontext()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__)
    p.add_argument("--quick", action="store_true", help="fewer steps and cases (about 3 minutes on 2 cores)")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    p.add_argument(
        "--only",
        choices=("overhead", "throughput", "peers", "memory"),
        action="append",
        help="run only these sections (repeatable)",
    )
    p.add_argument("--doc", type=Path, default=DOC, help="markdown file to update (default docs/performance.md)")
    p.add_argument("--no-doc", action="store_true", help="print JSON only")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    s = SETTINGS["quick" if args.quick else "full"]
    device = resolve_device("auto")
    sections = args.only or ["overhead", "throughput", "peers", "memory"]
    res: dict[str, Any] = {"machine": {**machine(), "quick": args.quick, "device": str(device)}}
    t0, c0 = time.perf_counter(), time.process_time()
    from diffkit import load_plugins

    registered = set(load_plugins(autoload=False).registry.names("denoiser"))
    if "overhead" in sections:
        res["overhead"] = run_overhead(s)
    if "throughput" in sections:
        res["throughput"] = run_throughput(s, device, registered)
    if "peers" in sections:
        res["peers"] = run_peers(s, device)
    if "memory" in sections:
        res["memory"] = run_memory(s)
    res["seconds"] = round(time.perf_counter() - t0, 1)
    res["cpu_seconds"] = round(time.process_time() - c0, 1)
    print(json.dumps(res, indent=1))
    if not args.no_doc:
        for name, source, render in (
            ("overhead", "overhead", report.overhead_md),
            ("throughput", "throughput", report.throughput_md),
            ("switches", "throughput", report.switches_md),
            ("peers", "peers", report.peers_md),
            ("memory", "memory", report.memory_md),
        ):
            if source in res:
                report.replace_section(args.doc, name, render(res))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
