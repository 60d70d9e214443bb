"""The modern recipe vs the seed recipe on Fashion-MNIST with the same CPU wall-clock budget.

Each recipe is its config (``configs/seed_reference.yaml``, ``configs/fashion_mnist_modern.yaml``)
shrunk to CPU size by the overrides below: 16x16 images, batch 64, small widths. Each
trains for ``train.budget`` through the real runner, which measures its speed after warm-up
and sizes its steps (and the cosine lr schedule) to end on time.
Both are sampled the same way (DDIM, 50 steps, from the EMA weights where the recipe has
them) and scored with FID in the offline classifier feature space
(``plugins/diffkit_builtin/metrics``) against the test split; the FID between the test split
and as many training images is the floor a perfect model would reach.

    python -m benchmarks.recipes [--quick] [--budget SECONDS] [--samples N] [--doc PATH]

JSON on stdout; the table replaces the ``recipes`` section of docs/performance.md (full runs;
``--doc`` names another file, ``--doc -`` writes none). About 5 minutes on 2 CPU cores
(``--quick``: about 2).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from benchmarks import report
from benchmarks.common import load, machine, quiet_overrides
from diffkit.api import open_run
from diffkit.runner import rundir
from diffkit.runner.data import fit_size, to_model_range
from diffkit.runner.evaluate import Evaluator

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
DOC = CONFIGS.parent / "docs" / "performance.md"
DATA = [
    "data.name=fashion_mnist",
    "data.root=/usr/share/datasets/fashion-mnist",
    "data.image_size=16",
    "data.batch_size=64",
    "train.device=cpu",
    "seed=0",
]
SAMPLING = ["sampler.name=ddim", "sampler.steps=50"]
RECIPES: dict[str, tuple[str, list[str]]] = {
    # the seed: BatchNorm U-Net without residuals or attention, L1 on eps, Adam 1e-3, linear T=300
    "seed": ("seed_reference.yaml", ["denoiser.channels=[32,64,128]"]),
    # the modern recipe at CPU size; unconditional so that both are scored on the same task
    "modern": (
        "fashion_mnist_modern.yaml",
        [
            "denoiser.channels=[32,64,64]",
            "denoiser.num_res_blocks=1",
            "denoiser.attention_resolutions=[4]",
            "denoiser.dropout=0.0",
            "time_embedding.dim=32",
            "train.precision=fp32",
            "train.conditional=false",
            "ema.decay=0.999",
            "optim.lr=0.001",
            "optim.warmup_steps=100",
        ],
    ),
}


def overrides_for(name: str) -> tuple[str, list[str]]:
    config, extra = RECIPES[name]
    return str(CONFIGS / config), [*DATA, *extra, *SAMPLING]


def train_budgeted(config: str, overrides: Sequence[str], run_dir: Path, seconds: float) -> dict[str, Any]:
    """Train for ``train.budget`` = `seconds` with the runner (it measures its speed after warm-up
    and sizes its steps and lr schedule to end on time); the plan it recorded."""
    import diffkit

    run = diffkit.train(config, [*overrides, *quiet_overrides(run_dir, None, 25, budget=f"{seconds:g}s")])
    plan = rundir.read_json(run_dir / rundir.STATUS)["plan"]
    per_step = plan.get("seconds_per_step") or plan["seconds"] / max(1, plan["steps"])
    return {
        "steps": plan["steps"],
        "train_seconds": plan["seconds"],
        "images_per_sec": round(run.config.data.batch_size / per_step, 1),
        "parameters": sum(p.numel() for p in open_run(run_dir).components.denoiser.parameters()),
    }


def evaluate(config: str, overrides: Sequence[str], run_dir: Path, samples: int) -> dict[str, Any]:
    trained = open_run(run_dir, list(SAMPLING), device="cpu")
    t0 = time.perf_counter()
    scores = trained.evaluate(["fid"], num=samples, seed=1, store=False)
    return {
        "fid": round(scores["eval/fid"], 3),
        "sample_seconds": round(time.perf_counter() - t0, 2),
        "ema": bool(trained.restored.state.get("ema")),
    }


def data_floor(samples: int) -> float:
    """FID between `samples` training images and the test split (same evaluator)."""
    config, overrides = overrides_for("seed")
    composed, plugins = load(overrides, config)
    evaluator = Evaluator(plugins.registry, composed.cfg, torch.device("cpu"), entries=["fid"])
    real = to_model_range(fit_size(evaluator.dataset.load("test"), 16).images)
    train = to_model_range(fit_size(evaluator.dataset.load("train"), 16).images[:samples])
    return round(evaluator.metrics[0].compute(real, train)["fid"], 3)


def run_recipe(name: str, budget: float, samples: int) -> dict[str, Any]:
    config, overrides = overrides_for(name)
    with tempfile.TemporaryDirectory() as tmp:
        out = {"recipe": name, "config": f"configs/{RECIPES[name][0]}", "overrides": overrides}
        out.update(train_budgeted(config, overrides, Path(tmp) / "run", budget))
        out.update(evaluate(config, overrides, Path(tmp) / "run", samples))
    return out


def section_md(res: dict[str, Any]) -> str:
    """The ``recipes`` section: settings and machine, the table, and the modern/seed ratios."""
    m, budget = res["machine"], f"{res['budget_seconds_per_recipe']:g}"
    lines = [
        f"Measured with `python -m benchmarks.recipes{' --quick' if res.get('quick') else ''}` ({budget} s of "
        f"training per recipe, {res['samples']} samples) on {m['cpu_cores']} CPU cores ({m['cpu']}), "
        f"{m['gpu'] or 'no GPU'}, torch {m['torch']}, {m['torch_threads']} torch thread(s), "
        f"load average at start {m['load_average']}:",
        "",
        f"| recipe | steps in {budget} s | train images/s | parameters | FID ({res['samples']} samples, "
        f"{res['sampler']}) | sampling s |",
        "|---|---|---|---|---|---|",
    ]
    for r in res["results"]:
        lines.append(
            f"| {r['recipe']} | {r['steps']} | {r['images_per_sec']} | {r['parameters'] / 1e6:.2f}M | "
            f"{r['fid']} | {r['sample_seconds']} |"
        )
    lines.append(f"| floor (train vs test) | | | | {res['fid_floor_train_vs_test']} | |")
    by = {r["recipe"]: r for r in res["results"]}
    if {"seed", "modern"} <= set(by):
        speed = by["modern"]["images_per_sec"] / by["seed"]["images_per_sec"]
        fid = by["seed"]["fid"] / by["modern"]["fid"]
        lines += [
            "",
            f"At the same wall-clock budget the modern recipe trains at {speed:.2f}x the images/s of the "
            f"seed recipe and reaches {f'a {fid:.1f}x lower' if fid >= 1 else f'a {1 / fid:.1f}x higher'} FID.",
        ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.recipes", description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="20 s per recipe and 200 samples (a smoke run)")
    p.add_argument("--budget", type=float, help="training seconds per recipe (default 75, quick 20)")
    p.add_argument("--samples", type=int, help="images scored per recipe (default 1000, quick 200)")
    p.add_argument(
        "--doc",
        help="the Markdown file whose 'recipes' section gets the table "
        "(default docs/performance.md for full runs, none for --quick; '-' for none)",
    )
    args = p.parse_args(argv)
    host = machine()
    budget = args.budget or (20.0 if args.quick else 75.0)
    samples = args.samples or (200 if args.quick else 1000)
    results = [run_recipe(name, budget, samples) for name in RECIPES]
    res = {
        "benchmark": "recipes",
        "quick": args.quick,
        "budget_seconds_per_recipe": budget,
        "samples": samples,
        "sampler": "ddim, 50 steps",
        "metric": "FID in the offline classifier feature space, vs the Fashion-MNIST test split at 16x16",
        "fid_floor_train_vs_test": data_floor(samples),
        "results": results,
        "machine": host,
    }
    json.dump(res, sys.stdout, indent=2)
    print()
    doc = args.doc if args.doc is not None else (None if args.quick else str(DOC))
    if doc and doc != "-":
        report.replace_section(Path(doc), "recipes", section_md(res))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
