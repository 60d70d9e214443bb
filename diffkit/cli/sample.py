"""``diffkit sample RUN_DIR --num N --out FILE [...]``: draw images from a trained run."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from diffkit.cli.common import add_restore_options, existing_dir, restore_run
from diffkit.errors import ConfigError
from diffkit.runner.device import resolve_device
from diffkit.runner.sample import generate, save_images


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("sample", help="draw images from a trained run")
    p.add_argument("run_dir", metavar="RUN_DIR")
    p.add_argument("overrides", nargs="*", metavar="key=value", help="e.g. sampler.eta=0.5")
    p.add_argument("--num", type=int, default=64, help="number of images (default 64)")
    p.add_argument("--out", required=True, help="FILE.png (a grid) or FILE.npz (arr_0: uint8 N,H,W,C)")
    p.add_argument("--sampler", help="sampler name (default: the run's sampler.name)")
    p.add_argument("--steps", type=int, help="number of sampling steps (default: the sampler's)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--batch-size", type=int, default=64, help="images generated at once (bounds memory)")
    p.add_argument("--class", dest="class_label", type=int, help="class label for a conditional model")
    p.add_argument("--guidance", type=float, default=1.0, help="classifier-free guidance scale (1: none)")
    add_restore_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    run_dir = existing_dir(args.run_dir)
    for name, value, low in (("--num", args.num, 1), ("--batch-size", args.batch_size, 1), ("--steps", args.steps, 1)):
        if value is not None and value < low:
            raise ConfigError(f"{name} {value} must be >= {low}")
    overrides = list(args.overrides) + ([f"sampler.name={args.sampler}"] if args.sampler else [])
    _, restored = restore_run(args, run_dir, overrides)
    cfg, parts, state = restored.cfg, restored.parts, restored.state
    device = resolve_device(args.device)
    size = int(cfg.data.image_size)
    images = generate(
        parts.denoiser.to(device), parts.scheduler.to(device), parts.sampler, args.num,
        (state["in_channels"], size, size), device=device, seed=args.seed, batch_size=args.batch_size,
        steps=args.steps, class_label=args.class_label, guidance_scale=args.guidance,
        progress="sample",
    )
    out = save_images(images, Path(args.out))
    print(out)
    print(
        f"diffkit: {args.num} images from {restored.path} (step {state['step']}, sampler {cfg.sampler.name})",
        file=sys.stderr,
    )
    return 0
