"""Best post-hoc EMA length against the run's own fixed EMA, per seed (Karras et al. 2024).

    python -m benchmarks.posthoc_ema [--config configs/cpu/fashion_mnist_modern.yaml]
        [--set key=value ...] [--seeds 3] [--lengths 0.03,0.05,0.08,0.12,0.16,0.2]
        [--num 500] [--metric fid] [--out DIR]

Each seed trains one run with ``ema.name=power`` (``sigma_rels`` 0.05 and 0.10 tracked,
snapshots every ``--snapshot-every`` steps), then scores, with the same sample seeds,
the run's own EMA (the tracked sigma_rel 0.05 it samples with: the fixed choice) and
every ``--lengths`` value rebuilt post hoc from its snapshots (``Run.evaluate(ema=...)``).
The JSON on stdout has one row per seed and a summary: mean and std over seeds of the
fixed EMA's score and of each seed's best post-hoc score, and the best length per seed.
No timings are measured.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from pathlib import Path
from typing import Any

import diffkit
from diffkit.runner.posthoc import key, parse_lengths
from diffkit.sweep.posthoc import RANKED as DIRECTION


def one_seed(
    config: str | None, overrides: list[str], seed: int, lengths: list[float], num: int | None, metric: str, out: Path
) -> dict[str, Any]:
    """Train one run (seed `seed`) and score its own EMA and each post-hoc length."""
    run = diffkit.train(config, [*overrides, f"seed={seed}"], run_dir=out / f"seed{seed}")
    fixed = run.evaluate([metric], num=num, seed=0)
    posthoc = run.evaluate([metric], num=num, seed=0, ema=lengths)
    name = f"eval/{metric}"
    scores = {s: posthoc[key(name, s)] for s in lengths}
    sign = DIRECTION.get(name, -1)
    best = max(scores, key=lambda s: sign * scores[s])
    return {
        "seed": seed,
        "run_dir": str(run.dir),
        "step": run.step,
        "fixed": fixed[name],
        "posthoc": {f"{s:g}": v for s, v in scores.items()},
        "best_length": best,
        "best": scores[best],
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


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.posthoc_ema", description=__doc__.split("\n\n")[0])
    p.add_argument("--config", help="the recipe (default: diffkit's defaults)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="a config override (repeatable)")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--lengths", default="0.03,0.05,0.08,0.12,0.16,0.2")
    p.add_argument("--snapshot-every", type=int, default=50)
    p.add_argument("--num", type=int, help="images per score (default: eval.num_samples)")
    p.add_argument("--metric", default="fid")
    p.add_argument("--out", type=Path, help="where the runs go (default: a temporary directory)")
    args = p.parse_args(argv)
    lengths = parse_lengths(args.lengths, "--lengths")
    overrides = [*args.set, "ema.name=power", f"ema.snapshot_every={args.snapshot_every}"]
    with tempfile.TemporaryDirectory() as tmp:
        out = args.out or Path(tmp)
        rows = [
            one_seed(args.config, overrides, seed, lengths, args.num, args.metric, out) for seed in range(args.seeds)
        ]
    result = {
        "benchmark": "posthoc_ema",
        "config": args.config,
        "overrides": overrides,
        "metric": args.metric,
        "fixed_sigma_rel": 0.05,
        "lengths": lengths,
        "rows": rows,
        "summary": summary(rows, DIRECTION.get(f"eval/{args.metric}", -1)),
    }
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
