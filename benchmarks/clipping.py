"""FID of a v-prediction model sampled with and without clipping x0_hat, the measurement
behind each sampler's ``clip_sample`` default for v-prediction (docs/concepts/reverse-process.md).

    python -m benchmarks.clipping [--run-dir RUN] [--num N] [--steps 10] [--seeds 3] [--write-docs]

Without ``--run-dir`` it first trains the model of ``benchmarks.sampling`` (Fashion-MNIST
16x16, cosine, T = 200, v-prediction, 1500 steps). Each row is the mean and standard
deviation over ``--seeds`` sample sets of the classifier-space FID at ``--steps`` steps of
each ``--sampler`` (default ddim and dpm_solver_pp). JSON on stdout; ``--write-docs`` puts
the table into docs/concepts/reverse-process.md (section ``clipping``).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from pathlib import Path
from typing import Any

import torch

from benchmarks.common import machine
from benchmarks.report import replace_section
from benchmarks.sampling import train_model, trained
from diffkit.runner.device import resolve_device

CLIPS: tuple[Any, ...] = (False, True, "dynamic")
DOC = Path(__file__).resolve().parents[1] / "docs" / "concepts" / "reverse-process.md"


def evaluate(
    run_dir: Path, num: int, steps: int, seeds: int, device: torch.device, samplers: list[str]
) -> dict[str, Any]:
    plugins, cfg, denoiser, scheduler, evaluator, state = trained(run_dir, device)
    rows = []
    for sampler, clip in [(name, clip) for name in samplers for clip in CLIPS]:
        s = plugins.registry.build("sampler", {"name": sampler, "clip_sample": clip})
        fids = [
            evaluator(denoiser, scheduler, s, num=num, steps=steps, seed=1000 * k)["eval/fid"] for k in range(seeds)
        ]
        rows.append(
            {
                "sampler": sampler,
                "clip_sample": clip,
                "steps": steps,
                "fid_mean": round(statistics.mean(fids), 3),
                "fid_std": round(statistics.stdev(fids), 3) if seeds > 1 else None,
                "fids": [round(f, 3) for f in fids],
            }
        )
    return {
        "run_dir": str(run_dir),
        "prediction_type": cfg.scheduler.prediction_type,
        "num_images": num,
        "train_step": state["step"],
        "feature_space": "classifier",
        "rows": rows,
    }


def table(result: dict[str, Any]) -> str:
    """The rows as Markdown: FID (mean +- std over sample sets) per sampler and clip_sample."""
    lines = [
        f"FID ({result['feature_space']} features, {result['num_images']} images per set, mean +- std "
        f"over {len(result['rows'][0]['fids'])} sample sets) of one {result['prediction_type']}-prediction "
        f"model (`python -m benchmarks.clipping --write-docs`, step {result['train_step']}):",
        "",
        "| sampler | steps | `clip_sample: false` | `true` (default) | `dynamic` |",
        "|---|---:|---:|---:|---:|",
    ]
    for name in dict.fromkeys(r["sampler"] for r in result["rows"]):
        by = {str(r["clip_sample"]): r for r in result["rows"] if r["sampler"] == name}
        cells = [f"{by[k]['fid_mean']:.1f} +- {by[k]['fid_std']:.1f}" for k in ("False", "True", "dynamic")]
        lines.append(f"| {name} | {by['True']['steps']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.clipping", description=__doc__.split("\n\n")[0])
    p.add_argument("--run-dir", type=Path, help="a trained run to sample from (default: train one)")
    p.add_argument("--keep", type=Path, help="train into this directory and keep it")
    p.add_argument("--num", type=int, default=500, help="images per sample set (default 500)")
    p.add_argument("--steps", type=int, default=10, help="sampling steps (default 10)")
    p.add_argument("--seeds", type=int, default=3, help="sample sets per setting (default 3)")
    p.add_argument("--sampler", action="append", help="repeatable (default: ddim and dpm_solver_pp)")
    p.add_argument("--write-docs", action="store_true", help="write the table into " + str(DOC.name))
    p.add_argument("--train-steps", type=int, default=1500)
    p.add_argument("--device", default="auto")
    args = p.parse_args(argv)
    torch.manual_seed(0)
    device = resolve_device(args.device)
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = args.run_dir or train_model(args.keep or Path(tmp) / "run", args.train_steps)
        result = evaluate(run_dir, args.num, args.steps, args.seeds, device, args.sampler or ["ddim", "dpm_solver_pp"])
    result["machine"] = machine()
    print(json.dumps(result, indent=2))
    if args.write_docs:
        replace_section(DOC, "clipping", table(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
