"""The ablations behind the shipped CPU recipes: a recipe, then each lever changed alone,
every arm trained for the same ``train.budget`` through the real runner and scored the
same way as ``benchmarks.budget`` (DPM-Solver++ at 10 NFE, FID / precision / recall at
28x28 in the offline classifier space vs the test split).

    python -m benchmarks.levers [--recipe recipe|recipe_fp32] [--budget 2m] [--seeds 0]
                                [--samples 500] [--only A,B] [--doc PATH] [--from-json RESULT.json]

``--recipe recipe`` (the default) changes ``configs/cpu/fashion_mnist.yaml``, the recipe for
CPUs with native bf16, one lever at a time; ``--recipe recipe_fp32`` runs the search that chose
``configs/cpu/fashion_mnist_fp32.yaml`` on a CPU without it. Arms run interleaved (every lever
of one seed, then the next seed). JSON on stdout; the table replaces the recipe's section of
docs/performance.md (``levers_bf16`` or ``levers``; ``--doc -``: none).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shlex
import sys
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks import report
from benchmarks.budget import ARMS, DOC, _pm, run_arm, spread
from benchmarks.common import machine
from benchmarks.formulations import _flags

#: a row -> (the row it changes, or None for the recipe's config as shipped; the changes).
Levers = dict[str, tuple[str | None, list[str]]]


@dataclass(frozen=True)
class LeverSet:
    """The levers of one shipped recipe, the budget arm that trains it and the doc section
    their table goes to; `base` is the row the others start from, `shipped` the row that is
    the config as it ships."""

    arm: str
    cpu: str
    levers: Levers
    base: str
    shipped: str
    section: str

    @property
    def config(self) -> str:
        return f"configs/{ARMS[self.arm][0]}"

    def overrides_of(self, lever: str) -> list[str]:
        """The overrides of the recipe's config that train `lever`'s row, its change last."""
        parent, changes = self.levers[lever]
        return [*(self.overrides_of(parent) if parent else []), *changes]


#: The search on a CPU without native bf16: a base, then one change at a time; then changes
#: to the best of those.
FP32 = LeverSet(
    arm="recipe_fp32",
    cpu="without native bf16",
    levers={
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
    },
    base="search base",
    shipped="+ logit-normal t",
    section="levers",
)
#: The recipe for CPUs with native bf16 as it ships, and each of its choices changed alone.
BF16 = LeverSet(
    arm="recipe",
    cpu="with native bf16",
    levers={
        "as shipped": (None, []),
        "fp32": ("as shipped", ["train.precision=fp32"]),
        "channels_last": ("as shipped", ["train.channels_last=true"]),
        "batch 32": ("as shipped", ["data.batch_size=32"]),
        "lr 2e-3": ("as shipped", ["optim.lr=0.002"]),
        "wider [48, 96, 96]": ("as shipped", ["denoiser.channels=[48,96,96]"]),
        "patch stem, [64, 128] at 14x14": (
            "as shipped",
            ["denoiser.patch_size=2", "denoiser.channels=[64,128]", "denoiser.attention_resolutions=[2]"],
        ),
        "EMA half-life 0.25 of the run": ("as shipped", ["ema.half_life_fraction=0.25"]),
        "torch.compile": ("as shipped", ["train.compile=true"]),
        "rectified flow (logit-normal t)": (
            "as shipped",
            [
                "scheduler={name: rectified_flow, prediction_type: velocity, density: logit_normal}",
                "loss.weighting=none",
            ],
        ),
    },
    base="as shipped",
    shipped="as shipped",
    section="levers_bf16",
)
SETS = {s.arm: s for s in (BF16, FP32)}


def summarise(levers: LeverSet, results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per arm (a lever, or a compiled lever with its cache state), in the set's order:
    n and mean/std of FID, precision, recall, steps."""
    lever_of = {r["arm"]: r["lever"] for r in results}
    order = list(levers.levers)
    rows = []
    for arm in sorted(lever_of, key=lambda a: order.index(lever_of[a])):
        runs = [r for r in results if r["arm"] == arm]
        rows.append(
            {
                "arm": arm,
                "lever": lever_of[arm],
                "n": len(runs),
                **{
                    k: spread([float(r[k]) for r in runs])
                    for k in ("fid", "precision", "recall", "steps", "train_seconds")
                },
            }
        )
    return rows


def joined(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Several runs of this benchmark (same recipe, budget and samples) as one: their rows and commands."""
    first = results[0]
    for r in results[1:]:
        if (r["recipe"], r["budget"], r["samples"]) != (first["recipe"], first["budget"], first["samples"]):
            raise SystemExit("--from-json: the results differ in recipe, budget or samples; they do not join")
    rows = [row for r in results for row in r["results"]]
    return {
        **first,
        "command": " and ".join(f"`{r['command']}`" for r in results).strip("`"),
        "seeds": sorted({s for r in results for s in r["seeds"]}),
        "results": rows,
        "summary": summarise(SETS[first["recipe"]], rows),
    }


def better_than_shipped(levers: LeverSet, summary: list[dict[str, Any]]) -> list[str]:
    """The rows whose mean FID is below the shipped row's, best first."""
    shipped = next((r["fid"]["mean"] for r in summary if r["arm"] == levers.shipped), None)
    if shipped is None:
        return []
    lower = [r for r in summary if r["arm"] != levers.shipped and r["fid"]["mean"] < shipped]
    return [r["arm"] for r in sorted(lower, key=lambda r: r["fid"]["mean"])]


def table_md(res: dict[str, Any]) -> str:
    levers = SETS[res["recipe"]]
    m = res["machine"]
    if levers.base == levers.shipped:
        base = f"**{levers.shipped}** is `{levers.config}` as it is, the shipped recipe for CPUs {levers.cpu}."
    else:
        changes = " ".join(f"`{o}`" for o in levers.overrides_of(levers.base))
        base = (
            f"The {levers.base} is `{levers.config}` with {changes}. **{levers.shipped}** is that config as it "
            f"is, the shipped recipe for CPUs {levers.cpu}."
        )
    one_seed = all(r["n"] == 1 for r in res["summary"])
    lines = [
        f"## The levers of the CPU recipe {levers.cpu}, each changed alone",
        "",
        f"Measured with `{res['command']}` on {m['cpu_cores']} CPU cores ({m['cpu']}, bf16 {m['cpu_bf16']}), "
        f"torch {m['torch']}, load average at start {m['load_average']}. Every arm trains for "
        f"`train.budget={res['budget']}` (seeds {res['seeds']}), is sampled with DPM-Solver++ at 10 NFE and "
        f"scored on {res['samples']} samples (FID, precision/recall in the offline classifier space vs the "
        "test split, 28x28); `train s` is the training time the run recorded. Each row changes one thing "
        f"from the row in its `from` column. {base}"
        + (" With one seed a row has no spread." if one_seed else " Mean ± standard deviation over the seeds."),
        "",
        "| arm | changes | from | steps | train s | FID | precision | recall | seeds |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in res["summary"]:
        parent, changes = levers.levers[r["lever"]]
        shown = " ".join(f"`{o}`" for o in changes) or "-"
        source = parent or ("the shipped config" if changes else "-")
        name = f"**{r['arm']}** (shipped)" if r["arm"] == levers.shipped else r["arm"]
        lines.append(
            f"| {name} | {shown} | {source} | {round(r['steps']['mean'])} | {_pm(r['train_seconds'])} | "
            f"**{_pm(r['fid'])}** | {_pm(r['precision'])} | {_pm(r['recall'])} | {r['n']} |"
        )
    lower = better_than_shipped(levers, res["summary"])
    if any(r["arm"] == levers.shipped for r in res["summary"]):
        lines += [
            "",
            (
                f"Lower mean FID than **{levers.shipped}** in this run: {', '.join(lower)}."
                if lower
                else f"No row has a lower mean FID than **{levers.shipped}** in this run."
            )
            + (
                " One seed a row: seeds alone move a 2m FID by several points (the seed spread in the budget "
                "table above), so this table does not resolve differences of that size."
                if one_seed
                else ""
            ),
        ]
    lines += _compile_lines(levers, res["summary"])
    return "\n".join(lines)


def _compile_lines(levers: LeverSet, summary: list[dict[str, Any]]) -> list[str]:
    """A sentence per compiled row: its steps in the budget against the shipped row's."""
    shipped = next((r for r in summary if r["arm"] == levers.shipped), None)
    compiled = [r for r in summary if COMPILE in levers.levers[r["lever"]][1]]
    if shipped is None or not compiled:
        return []
    base = shipped["steps"]["mean"]
    return [
        "",
        " ".join(
            f"**{r['arm']}** trained {r['steps']['mean']:.0f} steps in the budget against {base:.0f} "
            f"uncompiled ({r['steps']['mean'] / base:.2f}x)."
            for r in compiled
        ),
    ]


COMPILE = "train.compile=true"


def named(only: str, names: list[str]) -> list[str]:
    """The levers a comma-separated `only` names; a name may hold commas itself
    ("wider [48, 96]"), so pieces are joined until they make a known name.
    ValueError (with the piece) for what makes none."""
    out, piece = [], ""
    for part in only.split(","):
        piece = f"{piece},{part}" if piece else part
        if piece.strip() in names:
            out.append(piece.strip())
            piece = ""
    if piece:
        raise ValueError(repr(piece.strip()))
    return out


@contextlib.contextmanager
def _inductor_cache(fresh: Path) -> Iterator[Path]:
    """torch.compile's kernel cache for this run: ``TORCHINDUCTOR_CACHE_DIR`` when set (several
    runs of this benchmark then share it, as the runs of a sweep do), else `fresh`, empty."""
    given = os.environ.get("TORCHINDUCTOR_CACHE_DIR")
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = given or str(fresh)
    try:
        yield Path(given or fresh)
    finally:
        if given is None:
            del os.environ["TORCHINDUCTOR_CACHE_DIR"]


def _shared_cache() -> list[str]:
    """The command's environment prefix when runs share an inductor cache: it decides cold or warm."""
    given = os.environ.get("TORCHINDUCTOR_CACHE_DIR")
    return [f"TORCHINDUCTOR_CACHE_DIR={given}"] if given else []


def _cache_state(cache: Path) -> str:
    """ "warm" when the cache holds compiled kernels already, else "cold"."""
    return "warm" if cache.is_dir() and any(f.is_file() for f in cache.rglob("*")) else "cold"


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.levers", description=__doc__.split("\n")[0])
    p.add_argument(
        "--recipe",
        choices=list(SETS),
        default=BF16.arm,
        help="the recipe whose levers run: recipe (configs/cpu/fashion_mnist.yaml, the default) or "
        "recipe_fp32 (configs/cpu/fashion_mnist_fp32.yaml)",
    )
    p.add_argument("--budget", default="2m")
    p.add_argument("--seeds", default="0", help="comma-separated seeds")
    p.add_argument("--samples", type=int, default=500)
    p.add_argument("--only", help="comma-separated levers of the recipe (default all)")
    p.add_argument(
        "--from-json",
        type=Path,
        nargs="+",
        help="write the table of saved results (this command's JSON; several runs are joined) and exit",
    )
    p.add_argument(
        "--doc", default=str(DOC), help="Markdown file whose section of the recipe gets the table ('-': none)"
    )
    args = p.parse_args(argv)
    if args.from_json:
        res = joined([json.loads(f.read_text()) for f in args.from_json])
        report.replace_section(Path(args.doc), SETS[res["recipe"]].section, table_md(res))
        return 0
    chosen = SETS[args.recipe]
    try:
        levers = named(args.only, list(chosen.levers)) if args.only else list(chosen.levers)
    except ValueError as e:
        p.error(f"--only: unknown lever {e} of {args.recipe}; choose from {'; '.join(chosen.levers)}")
    seeds = [int(s) for s in args.seeds.split(",")]
    where_run = machine()
    results = []
    with tempfile.TemporaryDirectory() as tmp, _inductor_cache(Path(tmp) / "inductor_cache") as cache:
        for seed in seeds:
            for i, lever in enumerate(levers):
                where = Path(tmp) / f"lever{i}"
                where.mkdir(exist_ok=True)
                overrides = chosen.overrides_of(lever)
                arm = f"{lever}, {_cache_state(cache)} inductor cache" if COMPILE in overrides else lever
                row = run_arm(chosen.arm, args.budget, seed, args.samples, overrides, where)
                results.append({**row, "arm": arm, "lever": lever})
                print(f"benchmarks: lever {arm!r} seed {seed}: FID {row['fid']}", file=sys.stderr)
    res = {
        "benchmark": "levers",
        "command": shlex.join([*_shared_cache(), "python", "-m", "benchmarks.levers", *_flags(argv)]),
        "recipe": chosen.arm,
        "inductor_cache": str(cache),
        "budget": args.budget,
        "seeds": seeds,
        "samples": args.samples,
        "results": results,
        "summary": summarise(chosen, results),
        "machine": where_run,
    }
    json.dump(res, sys.stdout, indent=2)
    print()
    if args.doc != "-":
        report.replace_section(Path(args.doc), chosen.section, table_md(res))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
