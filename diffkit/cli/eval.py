"""``diffkit eval RUN_DIR [--num N] [--metric NAME ...] [--repeats K]``: sample-quality metrics of a run.

Samples from the run's latest checkpoint, scores the images against the dataset's
test split, merges the scores into the run's metrics.json and logs them to its
trackers (TensorBoard: scalars ``eval/*`` at the checkpoint's step). With
``--repeats K`` it scores K sample sets drawn with seeds SEED, SEED+1, ...: each
metric is their mean, ``<metric>_std`` their standard deviation (the metric's own
sampling noise) and ``eval/repeats`` is K, which ``diffkit compare`` reads. With
``--ema 0.05,0.08`` it scores the post-hoc EMA of each length instead (a run trained with
``ema.name=power``): one printed row per length, stored as ``eval/fid@ema0.08`` etc.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from diffkit.cli.common import add_restore_options, existing_dir, restore_run
from diffkit.cli.sample import check_seed
from diffkit.config import validate
from diffkit.config.compose import Composed
from diffkit.errors import ConfigError
from diffkit.runner import lock, rundir
from diffkit.config import hparams
from diffkit.interfaces.run import RunContext
from diffkit.runner.device import resolve_device
from diffkit.runner.evaluate import Evaluator, numeric
from diffkit.runner.posthoc import parse_lengths, rows, score_lengths, split
from diffkit.sweep.collect import BOOKKEEPING
from diffkit.sweep.groups import REPEATS
from diffkit.sweep.spread import spread

DEFAULT_METRICS = ["fid", "precision_recall"]


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("eval", help="compute sample-quality metrics (FID, precision, recall) of a run")
    p.add_argument("run_dir", metavar="RUN_DIR")
    p.add_argument("overrides", nargs="*", metavar="key=value", help="e.g. sampler.name=ddim eval.steps=50")
    p.add_argument("--num", type=int, help="images to generate (default: eval.num_samples)")
    p.add_argument("--metric", action="append", default=[], metavar="NAME",
                   help=f"a metric to compute (repeatable; default: eval.metrics or {', '.join(DEFAULT_METRICS)})")
    p.add_argument("--steps", type=int, help="sampling steps (default: eval.steps, else the sampler's)")
    p.add_argument("--seed", type=int, help="sampling seed (default: the run's seed)")
    p.add_argument("--repeats", type=int, default=1, metavar="K",
                   help="score K independent sample sets (seeds SEED..SEED+K-1); report each metric's mean and std")
    p.add_argument("--ema", metavar="LIST",
                   help="score post-hoc EMA lengths instead, e.g. 0.05,0.08,0.12: one row each, stored as "
                        "eval/<metric>@ema<length> (needs a run trained with ema.name=power)")
    add_restore_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    run_dir = existing_dir(args.run_dir)
    with lock.scope():
        lock.acquire(run_dir, "diffkit eval")
        return _evaluate(args, run_dir)


def _evaluate(args: argparse.Namespace, run_dir: Path) -> int:
    for name, value in (("--num", args.num), ("--steps", args.steps), ("--repeats", args.repeats)):
        if value is not None and value < 1:
            raise ConfigError(f"{name} {value} must be >= 1")
    check_seed(args.seed)
    lengths = parse_lengths(args.ema) if args.ema else []
    if lengths and args.no_ema:
        raise ConfigError("--ema and --no-ema exclude each other: pick the weights to score")
    stored = rundir.read_json(run_dir / rundir.METRICS)  # a bad file fails now, not after the sampling
    plugins, restored = restore_run(args, run_dir, args.overrides)
    cfg = restored.cfg
    validate(Composed(cfg))
    entries = args.metric or OmegaConf.to_container(cfg.eval.metrics) or DEFAULT_METRICS
    device = resolve_device(args.device, "--device")
    parts = restored.parts
    evaluator = Evaluator(plugins.registry, cfg, device, entries)
    if args.num is not None:
        evaluator.check_num(args.num, "--num")
    seed = int(cfg.seed) if args.seed is None else args.seed
    step = int(restored.state["step"])

    def score(denoiser: Any) -> dict[str, Any]:
        return repeated([
            evaluator(denoiser.to(device), parts.scheduler.to(device), parts.sampler,
                      num=args.num, steps=args.steps, seed=seed + i)
            for i in range(args.repeats)
        ])

    if lengths:  # each length's scores under keys suffixed @ema<length> (runner/posthoc.py)
        scores = score_lengths(run_dir, parts.denoiser, lengths, step,
                               lambda d: {**score(d), "eval/checkpoint_step": step})
    else:
        scores = {**score(parts.denoiser), "eval/checkpoint_step": step}
    old = {k: v for k, v in stored.items() if not (_from_repeats(split(k)[0]) and split(k)[1] in (lengths or [None]))}
    rundir.write_json(run_dir / rundir.METRICS, merge_scores(old, scores))
    config = OmegaConf.to_container(cfg, resolve=True)
    context = RunContext(dir=run_dir, config=config, step=step, hparams=hparams(config))
    plugins.hooks(cfg.run.on_hook_error).diffkit_eval(run=context, step=step, metrics=numeric(scores))
    if lengths:  # one row per length
        header, table = rows(scores, lengths)
        print("\t".join(header))
        for row in table:
            print("\t".join(f"{v:.6g}" if isinstance(v, float) else str(v) for v in row))
    for key, value in ([] if lengths else scores.items()):
        print(f"{key}\t{value:.6g}" if isinstance(value, float) else f"{key}\t{value}")
    print(f"diffkit: wrote {run_dir / rundir.METRICS}", file=sys.stderr)
    return 0


def repeated(sets: list[dict[str, Any]]) -> dict[str, Any]:
    """Scores of K sample sets -> each metric's mean, ``<metric>_std`` (sample std,
    K - 1 in the denominator) and ``eval/repeats``: K; bookkeeping from the first set.
    One set is returned as it is."""
    if len(sets) == 1:
        return sets[0]
    out = dict(sets[0])
    for key, value in sets[0].items():
        if key not in BOOKKEEPING and isinstance(value, float):
            s = spread([float(scores[key]) for scores in sets])
            out[key], out[f"{key}_std"] = s.mean, s.std
    out[REPEATS] = len(sets)
    return out


def _from_repeats(key: str) -> bool:
    """Keys an earlier ``--repeats`` evaluation wrote, which a new evaluation replaces."""
    return key == REPEATS or (key.startswith("eval/") and key.endswith("_std"))


def merge_scores(stored: dict[str, Any], scores: dict[str, Any]) -> dict[str, Any]:
    """`stored` updated with `scores`, except that a NaN never replaces a finite number."""
    merged = {**stored, **scores}
    for key, value in scores.items():
        old = stored.get(key)
        if isinstance(value, float) and math.isnan(value) and isinstance(old, (int, float)) and math.isfinite(old):
            merged[key] = old
            print(f"diffkit: warning: {key} is NaN; kept the stored value {old:.6g}", file=sys.stderr)
    return merged
