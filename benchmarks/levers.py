"""The ablation behind the shipped CPU recipe: the recipe, then each lever changed alone,
every arm trained for the same ``train.budget`` through the real runner and scored the
same way as ``benchmarks.budget`` (DPM-Solver++ at 10 NFE, FID / precision / recall at
28x28 in the offline classifier space vs the test split).

    python -m benchmarks.levers [--budget 2m] [--seeds 0] [--samples 500] [--only A,B]
                                [--doc PATH] [--from-json RESULT.json]

Arms run interleaved (every lever of one seed, then the next seed). JSON on stdout; the
table replaces the ``levers`` section of docs/performance.md (``--doc -``: none).
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks import report
from benchmarks.budget import DOC, _pm, run_arm, spread
from benchmarks.common import machine
from benchmarks.formulations import _flags

#: lever -> (the row it changes, or None for configs/cpu/fashion_mnist_fp32.yaml as shipped; the changes).
#: The search: a base, then one change at a time; then changes to the best of those.
LEVERS: dict[str, tuple[str | None, list[str]]] = {
    "search base": (None, ["denoiser.patch_size=2", "denoiser.channels=[32,64]", "scheduler.density=uniform"]),
    "batch 64": ("search base", ["data.batch_size=64"]),
    "lr 1e-3": ("search base", ["optim.lr=0.001"]),
    "wider [48, 96]": ("search base", ["denoiser.channels=[48,96]"]),
    "no patch stem [16, 32, 32]": ("search base", ["denoiser.patch_size=1", "denoiser.channels=[16,32,32]"]),
    "attention at 7x7": ("search base", ["denoiser.attention_resolutions=[2]"]),
    "logit-normal t": ("search base", ["scheduler.density=logit_normal"]),
    "EMA half-life 0.25 of the run": ("search base", ["ema.half_life_fraction=0.25"]),
    "batch 16": ("no patch stem [16, 32, 32]", ["data.batch_size=16"]),
    "lr 4e-3": ("no patch stem [16, 32, 32]", ["optim.lr=0.004"]),
    "+ logit-normal t": ("no patch stem [16, 32, 32]", ["scheduler.density=logit_normal"]),
}
#: the row whose config is configs/cpu/fashion_mnist_fp32.yaml as shipped.
SHIPPED = "+ logit-normal t"


def overrides_of(lever: str) -> list[str]:
    """The overrides of configs/cpu/fashion_mnist_fp32.yaml that train `lever`'s row."""
    parent, changes = LEVERS[lever]
    return [*(overrides_of(parent) if parent else []), *changes]


def summarise(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per lever, in LEVERS' order: n and mean/std of FID, precision, recall, steps."""
    rows = []
    for lever in [k for k in LEVERS if any(r["arm"] == k for r in results)]:
        runs = [r for r in results if r["arm"] == lever]
        rows.append(
            {
                "arm": lever,
                "n": len(runs),
                **{k: spread([float(r[k]) for r in runs]) for k in ("fid", "precision", "recall", "steps")},
            }
        )
    return rows


def joined(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Several runs of this benchmark (same budget and samples) as one: their rows and commands."""
    first = results[0]
    for r in results[1:]:
        if (r["budget"], r["samples"]) != (first["budget"], first["samples"]):
            raise SystemExit("--from-json: the results differ in budget or samples; they do not join")
    rows = [row for r in results for row in r["results"]]
    return {
        **first,
        "command": " and ".join(f"`{r['command']}`" for r in results).strip("`"),
        "seeds": sorted({s for r in results for s in r["seeds"]}),
        "results": rows,
        "summary": summarise(rows),
    }


def table_md(res: dict[str, Any]) -> str:
    m = res["machine"]
    lines = [
        "## The levers of the CPU recipe without native bf16, each changed alone",
        "",
        f"Measured with `{res['command']}` on {m['cpu_cores']} CPU cores ({m['cpu']}, bf16 {m['cpu_bf16']}), "
        f"torch {m['torch']}, load average at start {m['load_average']}. Every arm trains for "
        f"`train.budget={res['budget']}` (seeds {res['seeds']}), is sampled with DPM-Solver++ at 10 NFE and "
        f"scored on {res['samples']} samples (FID, precision/recall in the offline classifier space vs the "
        "test split, 28x28). Each row changes one thing from the row in its `from` column; the search base "
        f"is `configs/cpu/fashion_mnist_fp32.yaml` with {' '.join(f'`{o}`' for o in overrides_of('search base'))}. "
        f"**{SHIPPED}** is that config as it is, the shipped recipe for CPUs without native bf16. With one seed "
        "a row has no spread.",
        "",
        "| arm | changes | from | steps | FID | precision | recall | seeds |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in res["summary"]:
        parent, changes = LEVERS[r["arm"]]
        shown = " ".join(f"`{o}`" for o in changes)
        name = f"**{r['arm']}** (shipped)" if r["arm"] == SHIPPED else r["arm"]
        lines.append(
            f"| {name} | {shown} | {parent or 'the shipped config'} | {round(r['steps']['mean'])} | **{_pm(r['fid'])}** | {_pm(r['precision'])} | "
            f"{_pm(r['recall'])} | {r['n']} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.levers", description=__doc__.split("\n")[0])
    p.add_argument("--budget", default="2m")
    p.add_argument("--seeds", default="0", help="comma-separated seeds")
    p.add_argument("--samples", type=int, default=500)
    p.add_argument("--only", help=f"comma-separated levers (default all: {', '.join(LEVERS)})")
    p.add_argument(
        "--from-json",
        type=Path,
        nargs="+",
        help="write the table of saved results (this command's JSON; several runs are joined) and exit",
    )
    p.add_argument("--doc", default=str(DOC), help="Markdown file whose 'levers' section gets the table ('-': none)")
    args = p.parse_args(argv)
    if args.from_json:
        report.replace_section(
            Path(args.doc), "levers", table_md(joined([json.loads(f.read_text()) for f in args.from_json]))
        )
        return 0
    levers = args.only.split(",") if args.only else list(LEVERS)
    unknown = sorted(set(levers) - set(LEVERS))
    if unknown:
        p.error(f"--only: unknown lever {unknown[0]!r}; choose from {', '.join(LEVERS)}")
    seeds = [int(s) for s in args.seeds.split(",")]
    where_run = machine()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in seeds:
            for i, lever in enumerate(levers):
                where = Path(tmp) / f"lever{i}"
                where.mkdir(exist_ok=True)
                row = run_arm("recipe_fp32", args.budget, seed, args.samples, overrides_of(lever), where)
                results.append({**row, "arm": lever})
                print(f"benchmarks: lever {lever!r} seed {seed}: FID {row['fid']}", file=sys.stderr)
    summary = summarise(results)
    res = {
        "benchmark": "levers",
        "command": shlex.join(["python", "-m", "benchmarks.levers", *_flags(argv)]),
        "budget": args.budget,
        "seeds": seeds,
        "samples": args.samples,
        "results": results,
        "summary": summary,
        "machine": where_run,
    }
    json.dump(res, sys.stdout, indent=2)
    print()
    if args.doc != "-":
        report.replace_section(Path(args.doc), "levers", table_md(res))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
