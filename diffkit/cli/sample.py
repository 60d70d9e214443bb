"""``diffkit sample RUN_DIR --num N --out FILE [...]``: draw images from a trained run."""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import torch

from diffkit.api.run import check_sampling
from diffkit.cli.common import add_restore_options, open_from_args
from diffkit.errors import ConfigError
from diffkit.runner.build import build_dataset
from diffkit.runner.posthoc import lengths_of
from diffkit.runner.resources import check_memory
from diffkit.runner.sample import save_images, save_npz_stream
from diffkit.runner.visuals import save_points


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("sample", help="draw images from a trained run")
    p.add_argument("run_dir", metavar="RUN_DIR")
    p.add_argument("overrides", nargs="*", metavar="key=value", help="e.g. sampler.eta=0.5")
    p.add_argument("--num", type=int, default=64, help="number of images (default 64)")
    p.add_argument(
        "--out", required=True, help="FILE.png (a grid) or FILE.npz (arr_0: uint8 N,H,W,C; written batch by batch)"
    )
    p.add_argument("--sampler", help="sampler name (default: the run's sampler.name)")
    p.add_argument("--steps", type=int, help="number of sampling steps (default: the sampler's)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--batch-size", type=int, default=64, help="images generated at once (bounds memory)")
    p.add_argument("--class", dest="class_label", type=int, help="class label for a conditional model")
    p.add_argument("--guidance", type=float, default=1.0, help="classifier-free guidance scale (1: none)")
    p.add_argument(
        "--ema",
        metavar="SIGMA_REL",
        help="sample with the post-hoc EMA of this relative length, rebuilt from the run's snapshots "
        "(ema.name=power), e.g. 0.08",
    )
    add_restore_options(p)
    p.set_defaults(func=run)


def check_out(out: Path) -> None:
    if out.is_dir():
        raise ConfigError(f"--out {out} is a directory; name a .png or .npz file")
    if out.suffix.lower() not in (".png", ".npz"):
        raise ConfigError(f"--out {out}: use a .png (grid) or .npz (array) file name")


def _one_length(text: str | None, no_ema: bool) -> float | None:
    """``--ema`` as one checked length (None when not given)."""
    if text is None:
        return None
    if "," in text:
        raise ConfigError(
            f"--ema {text!r}: sample takes one length; evaluate several with diffkit eval RUN --ema {text}"
        )
    if no_ema:
        raise ConfigError("--ema and --no-ema exclude each other: pick the weights to sample with")
    return lengths_of(text, "--ema")[0]


def run(args: argparse.Namespace) -> int:
    out = Path(args.out)
    check_sampling(args.num, args.steps, args.seed, args.guidance, args.batch_size)
    check_out(out)
    length = _one_length(args.ema, args.no_ema)
    overrides = list(args.overrides) + ([f"sampler.name={args.sampler}"] if args.sampler else [])
    trained = open_from_args(args, overrides)
    _ = trained.device  # a bad --device fails before the checkpoint loads
    shape = trained.sample_shape
    pixels = math.prod(shape)
    # a float copy of the batch at each of a sampler's few live tensors (x_t, noise, output, x0)
    check_memory(
        f"--batch-size {args.batch_size} of shape {'x'.join(map(str, shape))}",
        8 * 4 * args.batch_size * pixels,
        trained.device,
        hint="lower --batch-size",
    )
    if out.suffix.lower() == ".png":
        check_memory(
            f"a PNG grid of --num {args.num} images",
            3 * 4 * args.num * pixels,
            hint="write --out FILE.npz, which is streamed to disk",
        )
    batches = trained.sample_batches(
        args.num,
        steps=args.steps,
        seed=args.seed,
        guidance=args.guidance,
        class_label=args.class_label,
        batch_size=args.batch_size,
        ema=length,
    )
    if len(shape) == 1:  # points: an (N, D) array or a scatter plot over the training data
        save_points(
            torch.cat(list(batches)), out, lambda: build_dataset(trained.plugins.registry, trained.config).load("train")
        )
    elif out.suffix.lower() == ".npz":
        save_npz_stream(batches, out, args.num, shape)  # type: ignore[arg-type]  # images: (C, H, W)
    else:
        save_images(torch.cat(list(batches)), out)
    print(out)
    print(
        f"diffkit: {args.num} images from {trained.restored.path} (step {trained.step}, "
        f"sampler {trained.config.sampler.name}" + (f", post-hoc EMA {length:g})" if length else ")"),
        file=sys.stderr,
    )
    return 0
