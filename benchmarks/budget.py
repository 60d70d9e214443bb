"""Quality per CPU-minute at the data's own resolution: every arm trains for the same
``train.budget`` through the real runner, then is sampled at 10 NFE and scored.

Arms (Fashion-MNIST 28x28, unconditional, ``precision=auto``, batch 64):

- ``recipe``: the shipped CPU recipe, ``configs/cpu/fashion_mnist.yaml``, as it is;
- ``recipe_fp32``: the recipe for CPUs without native bf16, ``configs/cpu/fashion_mnist_fp32.yaml``
  (not in the default run: ``--only`` names it);
- ``flow``, ``edm``, ``modern``: ``configs/cpu/fashion_mnist_{flow,edm,modern}.yaml`` at 28x28;
- ``diffusers``, ``ddpm_pytorch``: the peers' networks (``benchmarks/peer_denoisers.py``) with
  their training scripts' recipes (DDPM, linear betas, T = 1000; diffusers: eps, L2, AdamW 1e-4,
  EMA 0.9999; denoising-diffusion-pytorch: sigmoid schedule, v, Adam 8e-5, EMA 0.995),
  skipped when the library is not installed.

Each run's plan (``train.budget``: speed measured after warm-up, steps, lr schedule and warm-up
sized to end on time) is read back from its ``status.json``; its samples are drawn with
DPM-Solver++ 2M at 10 NFE (x0 clipped), from the EMA weights, and scored by the runner's
``eval.metrics`` (FID, precision/recall in the offline classifier feature space vs the test
split, at 28x28). Arms run interleaved (all arms of one seed and budget, then the next), so
that a change in machine load falls on all of them.

    python -m benchmarks.budget [--quick] [--budgets 2m,8m] [--seeds 0,1] [--long-seeds 0,1]
                                [--samples N] [--only A,B] [--set KEY=VALUE ...] [--doc PATH]

JSON on stdout; the table replaces the ``budget`` section of docs/performance.md (full runs;
``--doc`` names another file, ``--doc -`` writes none; ``--quick`` writes none by default).
"""

from __future__ import annotations

import argparse
import json
import shlex
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks import report
from benchmarks.common import machine, quiet_overrides
from benchmarks.formulations import _flags
from benchmarks.peer_denoisers import installed
from diffkit.api import open_run
from diffkit.config.length import parse_budget
from diffkit.runner import rundir

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "performance.md"
PEER_PLUGIN = "benchmarks.peer_denoisers"
DATA = [
    "data.name=fashion_mnist",
    "data.root=/usr/share/datasets/fashion-mnist",
    "data.image_size=28",
    "data.batch_size=64",
    "train.conditional=false",
    "train.precision=auto",
    "train.device=cpu",
]
SAMPLER = "sampler={name: dpm_solver_pp, steps: 10, clip_sample: true}"
PEER_COMMON = [
    f"run.plugins=[{PEER_PLUGIN}]",
    "scheduler={name: linear, num_timesteps: 1000, prediction_type: eps}",
    "loss={name: l2}",
    "optim.lr_schedule=cosine",
    "optim.warmup_fraction=0.05",
]
#: arm -> (config relative to configs/, overrides).
ARMS: dict[str, tuple[str, list[str]]] = {
    "recipe": ("cpu/fashion_mnist.yaml", ["train.device=cpu"]),
    "recipe_fp32": ("cpu/fashion_mnist_fp32.yaml", ["train.device=cpu"]),
    "flow": ("cpu/fashion_mnist_flow.yaml", [*DATA, SAMPLER]),
    "edm": ("cpu/fashion_mnist_edm.yaml", [*DATA, SAMPLER]),
    "modern": ("cpu/fashion_mnist_modern.yaml", [*DATA, SAMPLER]),
    "diffusers": (
        "default.yaml",
        [
            *DATA,
            SAMPLER,
            *PEER_COMMON,
            "denoiser={name: peer_diffusers, width: 32}",
            "optim={name: adamw, lr: 0.0001, weight_decay: 0.000001, betas: [0.95, 0.999]}",
            "ema.decay=0.9999",
        ],
    ),
    "ddpm_pytorch": (
        "default.yaml",
        [
            *DATA,
            SAMPLER,
            *PEER_COMMON,
            "denoiser={name: peer_ddpm_pytorch, width: 32}",
            "scheduler={name: sigmoid, num_timesteps: 1000, prediction_type: v}",
            "optim={name: adam, lr: 0.00008, betas: [0.9, 0.99]}",
            "ema.decay=0.995",
        ],
    ),
}
PEER_ARMS = {"diffusers": "peer_diffusers", "ddpm_pytorch": "peer_ddpm_pytorch"}
#: the arms of a run without ``--only``.
DEFAULT_ARMS = [arm for arm in ARMS if arm != "recipe_fp32"]
#: the arm every other is compared with in the ratio sentence, and the baseline it must beat.
RECIPE, BASELINE = "recipe", "flow"


def run_arm(arm: str, budget: str, seed: int, samples: int, extra: Sequence[str], tmp: Path) -> dict[str, Any]:
    """Train `arm` for `budget` with `seed` through the runner; its plan, scores and size."""
    import diffkit

    out: dict[str, Any] = {"arm": arm, "budget": budget, "seed": seed}
    if arm in PEER_ARMS and not installed(PEER_ARMS[arm]):
        return {
            **out,
            "skipped": f"{PEER_ARMS[arm]}: its library is not installed (pip install diffusers "
            "denoising-diffusion-pytorch)",
        }
    config, overrides = ARMS[arm]
    run_dir = tmp / f"{arm}-{budget}-s{seed}"
    t0 = time.perf_counter()
    diffkit.train(
        str(ROOT / "configs" / config),
        [
            *overrides,
            *extra,
            f"seed={seed}",
            "eval.metrics=[fid, precision_recall]",
            f"eval.num_samples={samples}",
            *quiet_overrides(run_dir, None, 25, budget=budget),
        ],
        plugins=[PEER_PLUGIN],
    )
    plan = rundir.read_json(run_dir / rundir.STATUS)["plan"]
    scores = rundir.read_json(run_dir / rundir.METRICS)
    out.update(
        {
            "config": f"configs/{config}",
            "overrides": [*overrides, *extra],
            "planned_steps": plan["planned_steps"],
            "steps": plan["steps"],
            "images": plan["images"],
            "train_seconds": plan["seconds"],
            "seconds_per_step": plan.get("seconds_per_step"),
            "wall_seconds": round(time.perf_counter() - t0, 2),
            "parameters": sum(p.numel() for p in open_run(run_dir).components.denoiser.parameters()),
            **{k: round(float(scores[f"eval/{k}"]), 3) for k in ("fid", "precision", "recall")},
        }
    )
    print(f"benchmarks: budget {arm} {budget} seed {seed}: {out['steps']} steps, FID {out['fid']}", file=sys.stderr)
    return out


def spread(values: list[float]) -> dict[str, float | None]:
    """Mean and sample standard deviation (None for one value)."""
    return {
        "mean": round(statistics.fmean(values), 3),
        "std": round(statistics.stdev(values), 3) if len(values) > 1 else None,
    }


def summarise(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (arm, budget) over its seeds: n and mean/std of FID, precision, recall, steps."""
    rows = []
    for key in dict.fromkeys((r["arm"], r["budget"]) for r in results):
        runs = [r for r in results if (r["arm"], r["budget"]) == key]
        done = [r for r in runs if "skipped" not in r]
        row: dict[str, Any] = {"arm": key[0], "budget": key[1], "n": len(done)}
        if not done:
            rows.append({**row, "skipped": runs[0]["skipped"]})
            continue
        row.update(
            {k: spread([float(r[k]) for r in done]) for k in ("fid", "precision", "recall", "steps", "train_seconds")}
        )
        row.update(config=done[0]["config"], parameters=done[0]["parameters"])
        rows.append(row)
    return rows


def ratios(summary: list[dict[str, Any]]) -> list[str]:
    """Per budget: the other arms' mean FID / the recipe's, and whether the issue's targets hold
    (>= 2x lower FID than the flow config; lower than each peer)."""
    lines = []
    for budget in dict.fromkeys(r["budget"] for r in summary):
        rows = {r["arm"]: r for r in summary if r["budget"] == budget and "skipped" not in r}
        if RECIPE not in rows or rows[RECIPE]["fid"]["mean"] <= 0:
            continue
        mine = rows[RECIPE]["fid"]["mean"]
        times = {arm: r["fid"]["mean"] / mine for arm, r in rows.items() if arm != RECIPE}
        if not times:
            continue
        parts = [f"{arm} {x:.2f}x" for arm, x in times.items()]
        line = f"At {budget}, other arm's mean FID / the recipe's: {', '.join(parts)}."
        if BASELINE in times:
            met = times[BASELINE] >= 2
            line += f" The target of 2x lower FID than `{BASELINE}` is {'met' if met else 'not met'}."
        peers = [arm for arm in PEER_ARMS if arm in times]
        if peers:
            behind = [arm for arm in peers if times[arm] <= 1]
            line += (
                " The recipe is ahead of " + " and ".join(peers) + "."
                if not behind
                else " The recipe is not ahead of " + " and ".join(behind) + "."
            )
        lines.append(line)
    return lines


def on_time(results: list[dict[str, Any]]) -> str | None:
    """How close each time-budget run's recorded training time came to its budget: the range of
    train_seconds / budget over the runs, and how many ended within 5 % of it."""
    shares = []
    for r in results:
        if "skipped" in r:
            continue
        budget = parse_budget(r["budget"])
        if budget.kind == "seconds":
            shares.append(float(r["train_seconds"]) / budget.amount)
    if not shares:
        return None
    within = sum(abs(x - 1) <= 0.05 for x in shares)
    return (
        f"Training time / budget over the {len(shares)} runs: {min(shares):.3f} to {max(shares):.3f}; "
        f"{within} of {len(shares)} within 5 % of the budget."
    )


def _pm(s: dict[str, Any]) -> str:
    return f"{s['mean']}" + (f" ± {s['std']}" if s["std"] is not None else "")


def table_md(res: dict[str, Any]) -> str:
    m = res["machine"]
    lines = [
        "## Quality per CPU-minute: every arm trained for the same budget",
        "",
        f"Measured with `{res['command']}` on {m['cpu_cores']} CPU cores ({m['cpu']}, bf16 {m['cpu_bf16']}), "
        f"torch {m['torch']}, {m['torch_threads']} torch thread(s), load average at start {m['load_average']}. "
        f"Each arm trains for `train.budget` through the runner (seeds {res['seeds']}, interleaved), is sampled "
        f"with DPM-Solver++ 2M at 10 NFE and scored on {res['samples']} samples at 28x28 (FID, precision/recall "
        "in the offline classifier feature space vs the test split). Mean ± standard deviation over the seeds "
        f"(seeds {res.get('long_seeds', res['seeds'])} for the budgets after the first). `train s` is the training "
        "time the run recorded (start-up, the final samples and scoring excluded).",
        "",
        "| arm | config | budget | params | steps | train s | FID | precision | recall | seeds |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in res["summary"]:
        if "skipped" in r:
            lines.append(f"| {r['arm']} | | {r['budget']} | | skipped: {r['skipped']} | | | | | |")
            continue
        lines.append(
            f"| {r['arm']} | `{r['config']}` | {r['budget']} | {r['parameters'] / 1e6:.2f}M | "
            f"{_pm(r['steps'])} | {_pm(r['train_seconds'])} | **{_pm(r['fid'])}** | {_pm(r['precision'])} | "
            f"{_pm(r['recall'])} | {r['n']} |"
        )
    timing = on_time(res["results"])
    return "\n".join([*lines, "", *ratios(res["summary"]), *([""] + [timing] if timing else [])])


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.budget", description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="a smoke run: 10s budgets, one seed, 200 samples")
    p.add_argument("--budgets", help="comma-separated train.budget values (default 2m,8m; quick 10s)")
    p.add_argument("--seeds", help="comma-separated seeds (default 0,1; quick 0)")
    p.add_argument("--samples", type=int, help="images scored per run (default 1000, quick 200)")
    p.add_argument("--only", help=f"comma-separated arms of {', '.join(ARMS)} (default: {', '.join(DEFAULT_ARMS)})")
    p.add_argument(
        "--long-only",
        default=f"{RECIPE},{BASELINE}",
        help="arms that also run the budgets after the first (default recipe,flow)",
    )
    p.add_argument("--long-seeds", help="comma-separated seeds of the budgets after the first (default: --seeds)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="an override for every run")
    p.add_argument(
        "--doc",
        help="Markdown file whose 'budget' section gets the table (default docs/performance.md "
        "for full runs, none for --quick; '-' for none)",
    )
    args = p.parse_args(argv)
    arms = args.only.split(",") if args.only else DEFAULT_ARMS
    unknown = sorted(set(arms) - set(ARMS))
    if unknown:
        p.error(f"--only: unknown arm {unknown[0]!r}; choose from {', '.join(ARMS)}")
    budgets = (args.budgets or ("10s" if args.quick else "2m,8m")).split(",")
    seeds = [int(s) for s in (args.seeds or ("0" if args.quick else "0,1")).split(",")]
    samples = args.samples or (200 if args.quick else 1000)
    long_only = set(args.long_only.split(","))
    long_seeds = [int(s) for s in args.long_seeds.split(",")] if args.long_seeds else seeds
    where = machine()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, budget in enumerate(budgets):
            for seed in seeds if i == 0 else long_seeds:
                for arm in arms:
                    if i == 0 or arm in long_only:
                        results.append(run_arm(arm, budget, seed, samples, args.set, Path(tmp)))
    res = {
        "benchmark": "budget",
        "command": shlex.join(["python", "-m", "benchmarks.budget", *_flags(argv)]),
        "quick": args.quick,
        "budgets": budgets,
        "seeds": seeds,
        "long_seeds": long_seeds,
        "samples": samples,
        "nfe": 10,
        "results": results,
        "summary": summarise(results),
        "machine": where,
    }
    json.dump(res, sys.stdout, indent=2)
    print()
    doc = args.doc if args.doc is not None else (None if args.quick else str(DOC))
    if doc and doc != "-":
        report.replace_section(Path(doc), "budget", table_md(res))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
