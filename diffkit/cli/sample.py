"""``diffkit sample RUN_DIR --num N --out FILE [...]``: draw images from a trained run."""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import torch

from diffkit.cli.common import add_restore_options, existing_dir, restore_run
from diffkit.errors import ConfigError
from diffkit.runner.build import build_dataset
from diffkit.runner.device import resolve_device
from diffkit.runner.resources import check_memory
from diffkit.runner.sample import generate_batches, save_images, save_npz_stream
from diffkit.runner.visuals import sample_shape, save_points


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("sample", help="draw images from a trained run")
    p.add_argument("run_dir", metavar="RUN_DIR")
    p.add_argument("overrides", nargs="*", metavar="key=value", help="e.g. sampler.eta=0.5")
    p.add_argument("--num", type=int, default=64, help="number of images (default 64)")
    p.add_argument("--out", required=True,
                   help="FILE.png (a grid) or FILE.npz (arr_0: uint8 N,H,W,C; written batch by batch)")
    p.add_argument("--sampler", help="sampler name (default: the run's sampler.name)")
    p.add_argument("--steps", type=int, help="number of sampling steps (default: the sampler's)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--batch-size", type=int, default=64, help="images generated at once (bounds memory)")
    p.add_argument("--class", dest="class_label", type=int, help="class label for a conditional model")
    p.add_argument("--guidance", type=float, default=1.0, help="classifier-free guidance scale (1: none)")
    add_restore_options(p)
    p.set_defaults(func=run)


#: bounds of the options, before any memory estimate.
MAX_NUM = 10_000_000
MAX_SEED = 2**63 - 2**20  # torch seeds are 64-bit; batch i uses seed + i


def check_options(args: argparse.Namespace) -> None:
    """Usage errors of ``sample``'s own options, before anything is loaded."""
    for name, value, low in (("--num", args.num, 1), ("--batch-size", args.batch_size, 1), ("--steps", args.steps, 1)):
        if value is not None and value < low:
            raise ConfigError(f"{name} {value} must be >= {low}")
    if args.num > MAX_NUM:
        raise ConfigError(f"--num {args.num} is more than {MAX_NUM} images; draw them in several calls with other --seed")
    check_seed(args.seed)
    if not math.isfinite(args.guidance):
        raise ConfigError(f"--guidance {args.guidance} must be a finite number")
    out = Path(args.out)
    if out.is_dir():
        raise ConfigError(f"--out {out} is a directory; name a .png or .npz file")
    if out.suffix.lower() not in (".png", ".npz"):
        raise ConfigError(f"--out {out}: use a .png (grid) or .npz (array) file name")


def check_seed(seed: int | None) -> None:
    if seed is not None and not 0 <= seed <= MAX_SEED:
        raise ConfigError(f"--seed {seed} must be an integer in [0, 2**63 - 2**20]")


def run(args: argparse.Namespace) -> int:
    run_dir = existing_dir(args.run_dir)
    check_options(args)
    device = resolve_device(args.device, "--device")
    overrides = list(args.overrides) + ([f"sampler.name={args.sampler}"] if args.sampler else [])
    plugins, restored = restore_run(args, run_dir, overrides)
    cfg, parts, state = restored.cfg, restored.parts, restored.state
    size = int(cfg.data.image_size)
    shape = sample_shape(state, size)
    out = Path(args.out)
    pixels = shape[0] * size * size
    # a float copy of the batch at each of a sampler's few live tensors (x_t, noise, output, x0)
    check_memory(f"--batch-size {args.batch_size} at {size}x{size}", 8 * 4 * args.batch_size * pixels, device,
                 hint="lower --batch-size")
    if out.suffix.lower() == ".png":
        check_memory(f"a PNG grid of --num {args.num} images", 3 * 4 * args.num * pixels,
                     hint="write --out FILE.npz, which is streamed to disk")
    batches = generate_batches(
        parts.denoiser.to(device), parts.scheduler.to(device), parts.sampler, args.num, shape,
        device=device, seed=args.seed, batch_size=args.batch_size,
        steps=args.steps, class_label=args.class_label, guidance_scale=args.guidance,
        progress="sample",
    )
    if len(shape) == 1:  # points: an (N, D) array or a scatter plot
        save_points(torch.cat(list(batches)), out, lambda: build_dataset(plugins.registry, cfg).load("train"))
    elif out.suffix.lower() == ".npz":
        save_npz_stream(batches, out, args.num, shape)  # type: ignore[arg-type]  # images: (C, H, W)
    else:
        save_images(torch.cat(list(batches)), out)
    print(out)
    print(
        f"diffkit: {args.num} images from {restored.path} (step {state['step']}, sampler {cfg.sampler.name})",
        file=sys.stderr,
    )
    return 0
