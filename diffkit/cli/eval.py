"""``diffkit eval RUN_DIR [--num N] [--metric NAME ...] [--repeats K]``: sample-quality metrics of a run.

Samples from the run's latest checkpoint, scores the images against the dataset's
test split, merges the scores into the run's metrics.json and logs them to its
trackers (TensorBoard: scalars ``eval/*`` at the checkpoint's step). With
``--repeats K`` it scores K sample sets that share no noise batch (set k starts at seed
SEED + k * ceil(N / eval.batch_size), ``provenance.set_seeds``): each
metric is their mean, ``<metric>_std`` their standard deviation (the metric's own
sampling noise) and ``eval/repeats`` is K, which ``diffkit compare`` reads. With
``--ema 0.05,0.08`` it scores the post-hoc EMA of each length instead (a run trained with
``ema.name=power``): one printed row per length, stored as ``eval/fid@ema0.08`` etc.
"""

from __future__ import annotations

import argparse
import sys

from diffkit.api.run import DEFAULT_METRICS, check_evaluation
from diffkit.cli.common import add_restore_options, open_from_args
from diffkit.errors import ConfigError
from diffkit.runner import posthoc, rundir


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("eval", help="compute sample-quality metrics (FID, precision, recall) of a run")
    p.add_argument("run_dir", metavar="RUN_DIR")
    p.add_argument("overrides", nargs="*", metavar="key=value", help="e.g. sampler.name=ddim eval.steps=50")
    p.add_argument("--num", type=int, help="images to generate (default: eval.num_samples)")
    p.add_argument(
        "--metric",
        action="append",
        default=[],
        metavar="NAME",
        help=f"a metric to compute (repeatable; default: eval.metrics or {', '.join(DEFAULT_METRICS)})",
    )
    p.add_argument("--steps", type=int, help="sampling steps (default: eval.steps, else the sampler's)")
    p.add_argument("--seed", type=int, help="sampling seed (default: the run's seed)")
    p.add_argument(
        "--repeats",
        type=int,
        default=1,
        metavar="K",
        help="score K independent sample sets (no shared noise batch); report each metric's mean and std",
    )
    p.add_argument(
        "--ema",
        metavar="LIST",
        help="score post-hoc EMA lengths instead, e.g. 0.05,0.08,0.12: one row each, stored as "
        "eval/<metric>@ema<length> (needs a run trained with ema.name=power)",
    )
    add_restore_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    check_evaluation(args.num, args.steps, args.repeats, args.seed)
    lengths = posthoc.lengths_of(args.ema, "--ema") if args.ema else []
    if lengths and args.no_ema:
        raise ConfigError("--ema and --no-ema exclude each other: pick the weights to score")
    trained = open_from_args(args, args.overrides)
    scores = trained.evaluate(
        args.metric or None, num=args.num, repeats=args.repeats, steps=args.steps, seed=args.seed, ema=lengths or None
    )
    if lengths:  # one row per length
        header, table = posthoc.rows(scores, lengths)
        print("\t".join(header))
        for row in table:
            print("\t".join(f"{v:.6g}" if isinstance(v, float) else str(v) for v in row))
    for key, value in [] if lengths else scores.items():
        print(f"{key}\t{value:.6g}" if isinstance(value, float) else f"{key}\t{value}")
    if not trained.changes_meaning:
        print(f"diffkit: wrote {trained.dir / rundir.METRICS}", file=sys.stderr)
    return 0
