"""``diffkit eval RUN_DIR [--num N] [--metric NAME ...]``: sample-quality metrics of a run.

Samples from the run's latest checkpoint, scores the images against the dataset's
test split, merges the scores into the run's metrics.json and logs them to its
trackers (TensorBoard: scalars ``eval/*`` at the checkpoint's step).
"""

from __future__ import annotations

import argparse
import sys

from omegaconf import OmegaConf

from diffkit.cli.common import add_restore_options, existing_dir, restore_run
from diffkit.config import validate
from diffkit.config.compose import Composed
from diffkit.errors import ConfigError
from diffkit.runner import rundir
from diffkit.runner.context import RunContext, flatten
from diffkit.runner.device import resolve_device
from diffkit.runner.evaluate import Evaluator, numeric

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
    add_restore_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    run_dir = existing_dir(args.run_dir)
    for name, value in (("--num", args.num), ("--steps", args.steps)):
        if value is not None and value < 1:
            raise ConfigError(f"{name} {value} must be >= 1")
    plugins, restored = restore_run(args, run_dir, args.overrides)
    cfg = restored.cfg
    validate(Composed(cfg))
    entries = args.metric or OmegaConf.to_container(cfg.eval.metrics) or DEFAULT_METRICS
    device = resolve_device(args.device)
    parts = restored.parts
    evaluator = Evaluator(plugins.registry, cfg, device, entries)
    scores = evaluator(parts.denoiser.to(device), parts.scheduler.to(device), parts.sampler,
                       num=args.num, steps=args.steps, seed=args.seed)
    step = int(restored.state["step"])
    scores["eval/checkpoint_step"] = step
    rundir.write_json(run_dir / rundir.METRICS, {**rundir.read_json(run_dir / rundir.METRICS), **scores})
    config = OmegaConf.to_container(cfg, resolve=True)
    context = RunContext(dir=run_dir, config=config, step=step, hparams=flatten({k: v for k, v in config.items() if k != "run"}))
    plugins.hooks(cfg.run.on_hook_error).diffkit_eval(run=context, step=step, metrics=numeric(scores))
    for key, value in scores.items():
        print(f"{key}\t{value:.6g}" if isinstance(value, float) else f"{key}\t{value}")
    print(f"diffkit: wrote {run_dir / rundir.METRICS}", file=sys.stderr)
    return 0
