"""Sample quality and speed of every built-in sampler at 10, 20, 50 and 100 steps, and of
DDPM over all T steps, on one small Fashion-MNIST model.

    python -m benchmarks.sampling [--quick] [--run-dir RUN] [--num N] [--device auto] [--doc PATH]

Without ``--run-dir`` it first trains the model through the runner (16x16 images, a
2-level U-Net, T = 200, v-prediction on the cosine schedule). Quality is the FID in the
``classifier`` feature space of the built-in ``fid`` metric (generated images against the
test split); speed is seconds per image at batch size N. JSON on stdout; the table and its
settings replace the ``sampling`` section of docs/performance.md (full runs; ``--doc`` names
another file, ``--doc -`` writes none). About 7 minutes on 2 CPU cores (``--quick``: about one).
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

from benchmarks import report
from benchmarks.common import machine, quiet_overrides, sync
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
DOC = Path(__file__).resolve().parents[1] / "docs" / "performance.md"
SAMPLERS = {"ddim": {}, "dpm_solver_pp": {}, "heun": {}, "ddpm": {}}
STEPS = (10, 20, 50, 100)


def train_model(out: Path, steps: int) -> Path:
    import diffkit

    return diffkit.train(None, [*MODEL, *quiet_overrides(out, steps, max(steps // 4, 1))]).dir


def trained(run_dir: Path, device: torch.device) -> tuple[Any, Any, Any, Any, Evaluator, dict[str, Any]]:
    """The newest checkpoint of `run_dir` rebuilt for sampling (EMA weights when the run
    samples with them): plugins, cfg, denoiser, scheduler, an FID evaluator and the state."""
    state = ckpt.load(ckpt.latest(run_dir / rundir.CHECKPOINTS))
    plugins = load_plugins(autoload=False)
    cfg = compose(None, [], plugins.registry, base=state["config"]).cfg
    parts = build_components(plugins.registry, cfg, state["in_channels"], state["num_classes"])
    use_ema = state.get("ema") and cfg.ema.get("use_for_sampling", True)
    parts.denoiser.load_state_dict(state["ema"]["model"] if use_ema else state["model"])
    evaluator = Evaluator(plugins.registry, cfg, device, entries=["fid"])
    return plugins, cfg, parts.denoiser.to(device), parts.scheduler.to(device), evaluator, state


def evaluate(run_dir: Path, num: int, device: torch.device) -> dict[str, Any]:
    plugins, cfg, denoiser, scheduler, evaluator, state = trained(run_dir, device)
    size = int(cfg.data.image_size)
    real = to_model_range(fit_size(evaluator.dataset.load("test"), size).images)
    T = scheduler.num_timesteps

    def measure(name: str, steps: int) -> dict[str, Any]:
        sampler = plugins.registry.build("sampler", {"name": name, **SAMPLERS[name]})
        sync(device)
        t0 = time.perf_counter()
        fake = generate(
            denoiser, scheduler, sampler, num, tuple(real.shape[1:]), device=device, batch_size=num, steps=steps
        )
        sync(device)
        seconds = time.perf_counter() - t0
        fid = evaluator.metrics[0].compute(real, fake)["fid"]
        return {"sampler": name, "steps": steps, "fid": round(fid, 3), "seconds_per_image": seconds / num}

    rows = [measure(name, n) for name in SAMPLERS for n in STEPS if n < T]
    rows.append(measure("ddpm", T))
    return {
        "run_dir": str(run_dir),
        "num_timesteps": T,
        "num_images": num,
        "train_step": state["step"],
        "feature_space": "classifier",
        "rows": rows,
    }


def table(result: dict[str, Any]) -> str:
    """The rows as a Markdown table: FID and ms per image by sampler and step count."""
    lines = ["| sampler | steps | FID (classifier features) | ms / image |", "|---|---:|---:|---:|"]
    for r in result["rows"]:
        lines.append(f"| {r['sampler']} | {r['steps']} | {r['fid']:.2f} | {1000 * r['seconds_per_image']:.1f} |")
    return "\n".join(lines)


def section_md(result: dict[str, Any]) -> str:
    """The ``sampling`` section: settings and machine, the table, the lowest FID per step count."""
    m, settings = result["machine"], dict(o.split("=", 1) for o in MODEL)
    model = (
        f"one {settings['data.name']} model trained through the runner ({settings['data.image_size']}x"
        f"{settings['data.image_size']}, U-Net channels {settings['denoiser.channels']}, "
        f"{settings['scheduler.name']} schedule with T = {result['num_timesteps']}, "
        f"{settings['scheduler.prediction_type']}-prediction, {settings['loss.name']} loss, "
        f"{result['train_step']} steps, {result['train_seconds']:.0f} s)"
        if result.get("train_seconds")
        else f"the model of `{result['run_dir']}` at step {result['train_step']} (T = {result['num_timesteps']})"
    )
    best = {}
    for r in result["rows"]:
        if r["steps"] not in best or r["fid"] < best[r["steps"]]["fid"]:
            best[r["steps"]] = r
    lines = [
        "## Sampling: quality against steps",
        "",
        f"Measured with `python -m benchmarks.sampling{' --quick' if result.get('quick') else ''}`: {model}, "
        f"{result['num_images']} images per sampler and step count. Quality is the built-in `fid` metric in its "
        f"`{result['feature_space']}` feature space against the test split (lower is better; "
        f"{result['num_images']} images bias FID upwards, so compare rows, not papers); speed is ms per image at "
        f"batch size {result['num_images']} on {m['cpu_cores']} CPU cores ({m['cpu']}), torch {m['torch']}, "
        f"load average at start {m['load_average']}.",
        "",
        table(result),
        "",
        "Lowest FID per step count: "
        + "; ".join(f"{n}: {r['sampler']} ({r['fid']:.2f})" for n, r in sorted(best.items()))
        + ".",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.sampling", description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="a shorter training and fewer images")
    p.add_argument("--run-dir", type=Path, help="a trained run to sample from (default: train one)")
    p.add_argument("--num", type=int, help="images per measurement (default 500, quick 100)")
    p.add_argument("--train-steps", type=int, help="training steps when training (default 1500, quick 300)")
    p.add_argument("--device", default="auto")
    p.add_argument("--markdown", action="store_true", help="also print the Markdown table to stderr")
    p.add_argument(
        "--doc",
        help="the Markdown file whose 'sampling' section gets the table "
        "(default docs/performance.md for full runs, none for --quick; '-' for none)",
    )
    args = p.parse_args(argv)
    torch.manual_seed(0)
    device = resolve_device(args.device)
    num = args.num or (100 if args.quick else 500)
    host = machine()
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        run_dir = args.run_dir or train_model(Path(tmp) / "run", args.train_steps or (300 if args.quick else 1500))
        train_seconds = time.perf_counter() - t0 if args.run_dir is None else None
        result = evaluate(run_dir, num, device)
    result.update({"train_seconds": train_seconds, "quick": args.quick, "machine": host})
    print(json.dumps(result, indent=2))
    if args.markdown:
        print(table(result), file=sys.stderr)
    doc = args.doc if args.doc is not None else (None if args.quick else str(DOC))
    if doc and doc != "-":
        report.replace_section(Path(doc), "sampling", section_md(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
