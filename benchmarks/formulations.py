"""DDPM vs EDM vs rectified flow trained for the same CPU wall-clock budget, sampled at 10 and 25 NFE.

The formulations are the variants of ``configs/sweeps/formulations.yaml`` (DDPM-eps, DDPM-v with
min-SNR, EDM, rectified flow with uniform and logit-normal t) on its base,
``configs/cpu/fashion_mnist_modern.yaml`` (the same ADM-style U-Net for all), at Fashion-MNIST's own
28x28 (``data.image_size=28``: the resolution users train at; the order of the formulations need not
carry over from 16x16), unconditional so that every model is scored on the same task. Each formulation trains for
``train.budget`` = the budget through the real runner, which measures its speed after warm-up
and sizes its steps, warm-up and lr schedule to end on time. Each is sampled with DPM-Solver++ 2M on its
process's own grid at 10 and 25 model evaluations (NFE = steps; x0_hat clipped to [-1, 1], the
sweep's setting), from the EMA weights, and scored
with FID and precision/recall in the offline classifier feature space against the test split.

    python -m benchmarks.formulations [--quick] [--budget S] [--samples N] [--doc PATH] [--only A,B] [--set KEY=VALUE ...]

JSON on stdout; the table replaces the ``formulations`` section of docs/performance.md
(full runs; ``--doc`` names another file, ``--doc -`` writes none).
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

from benchmarks import report
from benchmarks.common import machine
from benchmarks.recipes import train_budgeted
from diffkit.api import open_run
from diffkit.sweep import load_sweep

ROOT = Path(__file__).resolve().parents[1]
SWEEP = ROOT / "configs" / "sweeps" / "formulations.yaml"
DOC = ROOT / "docs" / "performance.md"
COMMON = ["train.device=cpu", "train.conditional=false", "seed=0", "eval.metrics=[]", "data.image_size=28"]
NFES = (10, 25)


def formulations(extra: Sequence[str]) -> dict[str, tuple[str, list[str]]]:
    """name -> (config, overrides): the sweep's variants on its base, then `extra`."""
    sweep = load_sweep(SWEEP)
    out = {}
    for run in sweep.runs:
        if run.values.get("seed", 0) == 0:
            out[run.values["variant"]] = (str(sweep.base), [*sweep.run_overrides(run), *COMMON, *extra])
    return out


def score(config: str, overrides: Sequence[str], run_dir: Path, nfe: int, samples: int) -> dict[str, Any]:
    """FID / precision / recall at `nfe` model evaluations and the sampling speed."""
    sampling = ["sampler.name=dpm_solver_pp", f"sampler.steps={nfe}"]
    trained = open_run(run_dir, sampling, device="cpu")
    t0 = time.perf_counter()
    scores = trained.evaluate(["fid", "precision_recall"], num=samples, seed=1, store=False)
    seconds = time.perf_counter() - t0
    return {
        "nfe": nfe,
        "fid": round(scores["eval/fid"], 3),
        "precision": round(scores["eval/precision"], 3),
        "recall": round(scores["eval/recall"], 3),
        "sample_images_per_sec": round(samples / seconds, 1),
    }


def run_formulation(name: str, config: str, overrides: list[str], budget: float, samples: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        out: dict[str, Any] = {"formulation": name, "overrides": overrides}
        out.update(train_budgeted(config, overrides, Path(tmp) / "run", budget))
        out["scores"] = [score(config, overrides, Path(tmp) / "run", nfe, samples) for nfe in NFES]
    return out


def table_md(res: dict[str, Any]) -> str:
    m = res["machine"]
    lines = [
        "## Formulations: DDPM, EDM, rectified flow",
        "",
        f"Measured with `{res.get('command') or 'python -m benchmarks.formulations' + (' --quick' if res['quick'] else '')}`: "
        f"`train.budget={res['budget_seconds']:g}s` of training each on {m['cpu_cores']} CPU cores ({m['cpu']}, "
        f"bf16 {m['cpu_bf16']}), torch {m['torch']}, "
        f"load average at start {m['load_average']}; {res['samples']} samples per score. "
        "The variants of `configs/sweeps/formulations.yaml` at 28x28, unconditional; DPM-Solver++ 2M on each "
        "process's grid "
        "(NFE = steps); FID and precision/recall in the offline classifier feature space vs the test split.",
        "",
        "| formulation | steps trained | train s | train img/s | NFE | FID | precision | recall | sample img/s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in res["results"]:
        for s in r["scores"]:
            lines.append(
                f"| {r['formulation']} | {r['steps']} | {r['train_seconds']} | {r['images_per_sec']} | "
                f"{s['nfe']} | {s['fid']} | "
                f"{s['precision']} | {s['recall']} | {s['sample_images_per_sec']} |"
            )
    for nfe, best in res["best_fid_per_nfe"].items():
        lines.append("")
        lines.append(f"Best FID at {nfe} NFE: **{best}**.")
    lines += [
        "",
        "Every formulation trained for the same wall-clock budget on the same network, so the best FID "
        "at an NFE is also the best quality per CPU-minute of training there. One seed each: "
        "`configs/sweeps/formulations.yaml` runs two seeds and `diffkit compare` marks differences within noise.",
    ]
    return "\n".join(lines)


def _flags(argv: Sequence[str] | None) -> list[str]:
    """The command-line flags that change what is measured (all but --doc and its value)."""
    args = list(sys.argv[1:] if argv is None else argv)
    out, skip = [], False
    for a in args:
        if skip or a == "--doc" or a.startswith("--doc="):
            skip = a == "--doc"
            continue
        out.append(a)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.formulations", description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="15 s per formulation and 200 samples (a smoke run)")
    p.add_argument("--budget", type=float, help="training seconds per formulation (default 120, quick 15)")
    p.add_argument("--samples", type=int, help="images scored per formulation and NFE (default 1000, quick 200)")
    p.add_argument(
        "--doc",
        help="the Markdown file whose 'formulations' section gets the table "
        "(default docs/performance.md for full runs, none for --quick; '-' for none)",
    )
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="an override for every run")
    p.add_argument("--only", help="comma-separated formulations to run (default: all)")
    args = p.parse_args(argv)
    chosen = formulations(args.set)
    if args.only:
        unknown = sorted(set(args.only.split(",")) - set(chosen))
        if unknown:
            p.error(f"--only: unknown formulation {unknown[0]!r}; choose from {', '.join(chosen)}")
        chosen = {k: v for k, v in chosen.items() if k in args.only.split(",")}
    budget = args.budget or (15.0 if args.quick else 120.0)
    samples = args.samples or (200 if args.quick else 1000)
    results = [
        run_formulation(name, config, overrides, budget, samples) for name, (config, overrides) in chosen.items()
    ]
    res = {
        "benchmark": "formulations",
        "command": shlex.join(["python", "-m", "benchmarks.formulations", *_flags(argv)]),
        "quick": args.quick,
        "budget_seconds": budget,
        "samples": samples,
        "sampler": "dpm_solver_pp",
        "results": results,
        "machine": machine(),
        "best_fid_per_nfe": {
            nfe: min(results, key=lambda r: r["scores"][i]["fid"])["formulation"] for i, nfe in enumerate(NFES)
        },
    }
    json.dump(res, sys.stdout, indent=2)
    print()
    doc = args.doc if args.doc is not None else (None if args.quick else str(DOC))
    if doc and doc != "-":
        report.replace_section(Path(doc), "formulations", table_md(res))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
