"""Sample quality and speed of every built-in sampler at 10, 20, 50 and 100 steps, and of
DDPM over all T steps, on one small Fashion-MNIST model.

    python -m benchmarks.sampling [--quick] [--run-dir RUN] [--num N] [--device auto]

Without ``--run-dir`` it first trains the model through the runner (16x16 images, a
2-level U-Net, T = 200, v-prediction on the cosine schedule). Quality is the FID in the
``classifier`` feature space of the built-in ``fid`` metric (generated images against the
test split); speed is seconds per image at batch size N. JSON on stdout.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from benchmarks.common import load, machine, quiet_overrides, sync
from diffkit import checkpoint as ckpt
from diffkit import load_plugins
from diffkit.config import compose
from diffkit.runner import rundir
from diffkit.runner.build import build_components
from diffkit.runner.data import fit_size, to_model_range
from diffkit.runner.device import resolve_device
from diffkit.runner.evaluate import Evaluator
from diffkit.runner.sample import generate

MODEL = [
    "data.name=fashion_mnist",
    "data.root=/usr/share/datasets/fashion-mnist",
    "data.image_size=16",
    "data.batch_size=64",
    "denoiser.channels=[32,64]",
    "scheduler.name=cosine",
    "scheduler.num_timesteps=200",
    "scheduler.prediction_type=v",
    "loss.name=l2",
    "train.precision=fp32",  # the same model on every machine (auto would pick bf16 where the CPU has it)
]
SAMPLERS = {"ddim": {}, "dpm_solver_pp": {}, "heun": {}, "ddpm": {}}
STEPS = (10, 20, 50, 100)


def train_model(out: Path, steps: int) -> Path:
    from diffkit.runner.train import train

    composed, plugins = load([*MODEL, *quiet_overrides(out, steps, max(steps // 4, 1))])
    return train(composed, plugins)


def evaluate(run_dir: Path, num: int, device: torch.device) -> dict[str, Any]:
    state = ckpt.load(ckpt.latest(run_dir / rundir.CHECKPOINTS))
    plugins = load_plugins(autoload=False)
    cfg = compose(None, [], plugins.registry, base=state["config"]).cfg
    parts = build_components(plugins.registry, cfg, state["in_channels"], state["num_classes"])
    use_ema = state.get("ema") and cfg.ema.use_for_sampling
    parts.denoiser.load_state_dict(state["ema"]["model"] if use_ema else state["model"])
    denoiser, scheduler = parts.denoiser.to(device), parts.scheduler.to(device)
    evaluator = Evaluator(plugins.registry, cfg, device, entries=["fid"])
    size = int(cfg.data.image_size)
    real = to_model_range(fit_size(evaluator.dataset.load("test"), size).images)
    T = scheduler.num_timesteps

    def measure(name: str, steps: int) -> dict[str, Any]:
        sampler = plugins.registry.build("sampler", {"name": name, **SAMPLERS[name]})
        sync(device)
        t0 = time.perf_counter()
        fake = generate(denoiser, scheduler, sampler, num, tuple(real.shape[1:]), device=device, batch_size=num, steps=steps)
        sync(device)
        seconds = time.perf_counter() - t0
        fid = evaluator.metrics[0].compute(real, fake)["fid"]
        return {"sampler": name, "steps": steps, "fid": round(fid, 3), "seconds_per_image": seconds / num}

    rows = [measure(name, n) for name in SAMPLERS for n in STEPS if n < T]
    rows.append(measure("ddpm", T))
    return {"run_dir": str(run_dir), "num_timesteps": T, "num_images": num, "train_step": state["step"],
            "feature_space": "classifier", "rows": rows}


def table(result: dict[str, Any]) -> str:
    """The rows as a Markdown table: FID and ms per image by sampler and step count."""
    lines = ["| sampler | steps | FID (classifier features) | ms / image |", "|---|---:|---:|---:|"]
    for r in result["rows"]:
        lines.append(f"| {r['sampler']} | {r['steps']} | {r['fid']:.2f} | {1000 * r['seconds_per_image']:.1f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.sampling", description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="a shorter training and fewer images")
    p.add_argument("--run-dir", type=Path, help="a trained run to sample from (default: train one)")
    p.add_argument("--num", type=int, help="images per measurement (default 500, quick 100)")
    p.add_argument("--train-steps", type=int, help="training steps when training (default 1500, quick 300)")
    p.add_argument("--device", default="auto")
    p.add_argument("--markdown", action="store_true", help="also print the Markdown table to stderr")
    args = p.parse_args(argv)
    torch.manual_seed(0)
    device = resolve_device(args.device)
    num = args.num or (100 if args.quick else 500)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        run_dir = args.run_dir or train_model(Path(tmp) / "run", args.train_steps or (300 if args.quick else 1500))
        train_seconds = time.perf_counter() - t0 if args.run_dir is None else None
        result = evaluate(run_dir, num, device)
    result.update({"train_seconds": train_seconds, "machine": machine()})
    print(json.dumps(result, indent=2))
    if args.markdown:
        print(table(result), file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
