"""Best post-hoc EMA length against the run's own fixed EMA, per seed (Karras et al. 2024).

    python -m benchmarks.posthoc_ema [--config configs/cpu/fashion_mnist.yaml]
        [--set key=value ...] [--seeds 3] [--lengths 0.03,0.05,0.08,0.12,0.16,0.2]
        [--snapshot-every 25] [--num 500] [--metric fid] [--out DIR] [--doc PATH] [--section NAME]

Each seed trains one run with ``ema={name: power}`` (``sigma_rels`` 0.05 and 0.10 tracked,
snapshots every ``--snapshot-every`` steps), then scores, with the same sample seeds,
the run's own EMA (the tracked sigma_rel 0.05 it samples with: the fixed choice) and
every ``--lengths`` value rebuilt post hoc from its snapshots (``Run.evaluate(ema=...)``).
The best length is chosen on one sample set (sampling seed 0) and then the fixed EMA and
that length are both scored again on a fresh set (sampling seed 1), so that the comparison
is not flattered by choosing the minimum of several noisy scores. The JSON on stdout has one
row per seed and a summary: mean and std over seeds of the fixed EMA's and the chosen
length's held-out scores, and the best length per seed; ``--doc`` writes the table into the
``--section`` (default ``posthoc_ema``) of a page such as docs/concepts/posthoc-ema.md. No
timings are measured.
"""

from __future__ import annotations

import argparse
import json
import shlex
import statistics
import tempfile
from pathlib import Path
from typing import Any

import diffkit
from benchmarks import report
from benchmarks.common import machine
from benchmarks.formulations import _flags
from diffkit.runner.posthoc import key, parse_lengths
from diffkit.sweep.posthoc import RANKED as DIRECTION


def one_seed(
    config: str | None, overrides: list[str], seed: int, lengths: list[float], num: int | None, metric: str, out: Path
) -> dict[str, Any]:
    """Train one run (seed `seed`) and score its own EMA and each post-hoc length."""
    run = diffkit.train(config, [*overrides, f"seed={seed}"], run_dir=out / f"seed{seed}")
    name = f"eval/{metric}"
    fixed = run.evaluate([metric], num=num, seed=0, store=False)[name]
    posthoc = run.evaluate([metric], num=num, seed=0, ema=lengths, store=False)
    scores = {s: posthoc[key(name, s)] for s in lengths}
    sign = DIRECTION.get(name, -1)
    best = max(scores, key=lambda s: sign * scores[s])
    held_fixed = run.evaluate([metric], num=num, seed=1, store=False)[name]
    held_best = run.evaluate([metric], num=num, seed=1, ema=[best], store=False)[key(name, best)]
    return {
        "seed": seed,
        "run_dir": str(run.dir),
        "step": run.step,
        "fixed_chosen_set": fixed,
        "posthoc": {f"{s:g}": v for s, v in scores.items()},
        "best_length": best,
        "best_chosen_set": scores[best],
        "fixed": held_fixed,
        "best": held_best,
    }


def summary(rows: list[dict[str, Any]], sign: int) -> dict[str, Any]:
    """Mean and std over seeds; `sign`: +1 when larger scores are better, -1 when smaller."""

    def stats(values: list[float]) -> dict[str, float | None]:
        return {"mean": statistics.fmean(values), "std": statistics.stdev(values) if len(values) > 1 else None}

    return {
        "fixed": stats([r["fixed"] for r in rows]),
        "best_posthoc": stats([r["best"] for r in rows]),
        "best_length_per_seed": [r["best_length"] for r in rows],
        "posthoc_better_in": sum(sign * r["best"] > sign * r["fixed"] for r in rows),
        "seeds": len(rows),
    }


def section(res: dict[str, Any]) -> str:
    """The docs section: per seed, the fixed EMA, every length (the choosing set) and the held-out pair."""
    m, summ, metric = res["machine"], res["summary"], res["metric"]
    lengths = [f"{s:g}" for s in res["lengths"]]
    sign = DIRECTION.get(f"eval/{metric}", -1)
    better = summ["posthoc_better_in"]
    lines = [
        f"Measured with `{res['command']}` on {m['cpu_cores']} CPU cores ({m['cpu']}, bf16 {m['cpu_bf16']}), torch {m['torch']}, "
        f"load average at start {m['load_average']}: `{res['config']}` trained with "
        f"`{' '.join(res['overrides'])}`, {res['num'] or 'eval.num_samples'} samples per score. The length "
        "columns are scored on one sample set (sampling seed 0), which chooses the best length; the last two "
        "columns score the fixed EMA (sigma_rel 0.05, what the run samples with) and the chosen length on a "
        f"fresh set (sampling seed 1). {metric}: {'higher' if sign > 0 else 'lower'} is better.",
        "",
        "| seed | steps | " + " | ".join(f"σ_rel {s}" for s in lengths) + " | best | fixed (held out) | "
        "best (held out) |",
        "|---|---|" + "---|" * len(lengths) + "---|---|---|",
    ]
    for r in res["rows"]:
        cells = " | ".join(f"{r['posthoc'][s]:.2f}" for s in lengths)
        lines.append(
            f"| {r['seed']} | {r['step']} | {cells} | {r['best_length']:g} | {r['fixed']:.2f} | **{r['best']:.2f}** |"
        )

    def pm(s: dict[str, Any]) -> str:
        return f"{s['mean']:.2f}" + (f" ± {s['std']:.2f}" if s["std"] is not None else "")

    lines += [
        "",
        f"Held out, over {summ['seeds']} seeds: the fixed EMA scores {pm(summ['fixed'])}, the best post-hoc length "
        f"{pm(summ['best_posthoc'])} (mean ± standard deviation); the chosen length scores better than the fixed "
        f"EMA in {better} of {summ['seeds']} seeds. Best length per seed: "
        + ", ".join(f"{s:g}" for s in summ["best_length_per_seed"])
        + ".",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.posthoc_ema", description=__doc__.split("\n\n")[0])
    p.add_argument("--config", help="the recipe (default: diffkit's defaults)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="a config override (repeatable)")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--lengths", default="0.03,0.05,0.08,0.12,0.16,0.2")
    p.add_argument("--snapshot-every", type=int, default=25)
    p.add_argument("--num", type=int, help="images per score (default: eval.num_samples)")
    p.add_argument("--metric", default="fid")
    p.add_argument("--out", type=Path, help="where the runs go (default: a temporary directory)")
    p.add_argument("--doc", default="-", help="Markdown file whose --section gets the table (default: none)")
    p.add_argument("--section", default="posthoc_ema", help="the section of --doc (default posthoc_ema)")
    args = p.parse_args(argv)
    lengths = parse_lengths(args.lengths, "--lengths")
    overrides = [*args.set, f"ema={{name: power, snapshot_every: {args.snapshot_every}, use_for_sampling: true}}"]
    where = machine()
    with tempfile.TemporaryDirectory() as tmp:
        out = args.out or Path(tmp)
        rows = [
            one_seed(args.config, overrides, seed, lengths, args.num, args.metric, out) for seed in range(args.seeds)
        ]
    result = {
        "benchmark": "posthoc_ema",
        "command": shlex.join(["python", "-m", "benchmarks.posthoc_ema", *_flags(argv)]),
        "config": args.config,
        "num": args.num,
        "machine": where,
        "overrides": overrides,
        "metric": args.metric,
        "fixed_sigma_rel": 0.05,
        "lengths": lengths,
        "rows": rows,
        "summary": summary(rows, DIRECTION.get(f"eval/{args.metric}", -1)),
    }
    print(json.dumps(result, indent=2))
    if args.doc != "-":
        report.replace_section(Path(args.doc), args.section, section(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
