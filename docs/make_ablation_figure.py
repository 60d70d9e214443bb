"""Write a sweep's results into the docs: a PNG of its training-loss curves and FIDs per
group (mean and std over seeds, each seed a dot), and, with ``--doc``, the section
between ``<!-- results:NAME:start -->`` and ``<!-- results:NAME:end -->`` of a page:
the ``diffkit compare`` table, the FID of pure noise under the same metric, and one
sentence per hyperparameter saying which differences are within noise.

    python docs/make_ablation_figure.py runs/sweeps/digits_quick docs/images/digits_quick.png --doc docs/ablations.md
"""

from __future__ import annotations

import argparse
import math
import re
from pathlib import Path

import torch
from PIL import Image, ImageDraw
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from diffkit import load_plugins
from diffkit.config import compose, read_yaml
from diffkit.runner.data import fit_size, to_model_range
from diffkit.runner.evaluate import Evaluator
from diffkit.sweep import find_runs
from diffkit.sweep.board import comparison_text
from diffkit.sweep.collect import RunRecord
from diffkit.sweep.groups import group_keys, metric_spread
from diffkit.sweep.spread import Spread, within_noise

COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"]
W, H, PAD = 900, 380, 50
METRIC = "eval/fid"


def groups(records: list[RunRecord]) -> dict[str, list[RunRecord]]:
    """Runs by their group (every differing hyperparameter but seed), named by its values."""
    keys = group_keys(records, None)
    out: dict[str, list[RunRecord]] = {}
    for r in records:
        out.setdefault("-".join(str(r.hparams.get(k)) for k in keys) or "all", []).append(r)
    return out


def loss_curve(run_dir: Path) -> list[tuple[int, float]]:
    acc = EventAccumulator(str(run_dir), size_guidance={"scalars": 0})
    acc.Reload()
    return [(e.step, e.value) for e in acc.Scalars("train/loss")]


def draw(by_group: dict[str, list[RunRecord]], path: Path) -> None:
    """Left: train/loss of every run, coloured by group; right: FID mean ± std per group, seeds as dots."""
    img = Image.new("RGB", (W, H + 24 * len(by_group)), "white")
    d = ImageDraw.Draw(img)
    half = W // 2
    curves = {name: [loss_curve(r.dir) for r in runs] for name, runs in by_group.items()}
    steps = [s for cs in curves.values() for c in cs for s, _ in c]
    values = [v for cs in curves.values() for c in cs for _, v in c]
    x0, x1, y0, y1 = PAD, half - 20, H - PAD, PAD
    d.rectangle([x0, y1, x1, y0], outline="black")
    d.text((x0, 15), f"train/loss  ({min(values):.3f} .. {max(values):.3f})", fill="black")
    d.text((x0, y0 + 8), f"step 0 .. {max(steps)}", fill="black")
    for i, cs in enumerate(curves.values()):
        for c in cs:
            pts = [(x0 + (x1 - x0) * s / max(steps), y0 - (y0 - y1) * (v - min(values)) / (max(values) - min(values) or 1))
                   for s, v in c]
            d.line(pts, fill=COLORS[i % len(COLORS)], width=1)
    fids = {name: [r.metrics[METRIC] for r in runs if METRIC in r.metrics] for name, runs in by_group.items()}
    top = max((max(v) for v in fids.values() if v), default=1.0) * 1.1
    bx0, bx1 = half + PAD, W - 20
    d.text((bx0, 15), f"{METRIC}: mean ± std over seeds, seeds as dots (lower is better)", fill="black")
    bar_w = (bx1 - bx0) / max(1, len(fids))
    for i, (name, vals) in enumerate(fids.items()):
        if not vals:
            continue
        s = metric_spread(by_group[name], METRIC)
        left, right = bx0 + i * bar_w + 6, bx0 + (i + 1) * bar_w - 6
        y = lambda v: y0 - (y0 - y1) * v / top  # noqa: E731
        d.rectangle([left, y(s.mean), right, y0], fill=COLORS[i % len(COLORS)])
        if s.std is not None:
            mid = (left + right) / 2
            d.line([mid, y(s.mean - s.std), mid, y(s.mean + s.std)], fill="black", width=2)
            d.line([mid - 6, y(s.mean + s.std), mid + 6, y(s.mean + s.std)], fill="black", width=2)
            d.line([mid - 6, y(s.mean - s.std), mid + 6, y(s.mean - s.std)], fill="black", width=2)
        for v in vals:
            d.ellipse([right - 12, y(v) - 3, right - 6, y(v) + 3], fill="black")
        d.text((left + 2, y(s.mean) - 14), f"{s.mean:.1f}", fill="black")
    d.line([bx0, y0, bx1, y0], fill="black")
    for i, name in enumerate(by_group):  # legend
        y = H + 24 * i
        d.rectangle([PAD, y + 4, PAD + 20, y + 16], fill=COLORS[i % len(COLORS)])
        d.text((PAD + 30, y + 4), f"{name} ({len(by_group[name])} runs)", fill="black")
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path)


def noise_scores(record: RunRecord, num: int) -> dict[str, float]:
    """The run's metrics on `num` images of pure noise (N(0, I) clamped to [-1, 1]),
    against the same test split: the score of a model that learned nothing."""
    plugins = load_plugins()
    cfg = compose(None, [], plugins.registry, base=read_yaml(record.dir / "config.yaml")).cfg
    evaluator = Evaluator(plugins.registry, cfg, torch.device("cpu"))
    real = to_model_range(fit_size(evaluator.dataset.load("test"), int(cfg.data.image_size)).images)
    fake = torch.randn((num, *real.shape[1:]), generator=torch.Generator().manual_seed(0)).clamp(-1, 1)
    scores: dict[str, float] = {}
    for metric in evaluator.metrics:
        scores.update({f"eval/{k}": float(v) for k, v in metric.compute(real, fake).items()})
    return scores


def findings(by_group: dict[str, list[RunRecord]], records: list[RunRecord]) -> list[str]:
    """For each grouping hyperparameter, the pairs of groups that differ only in it: the
    FID difference and whether it is within noise (|difference| <= 2 standard errors)."""
    keys = group_keys(records, None)
    first = {name: runs[0].hparams for name, runs in by_group.items()}
    lines = []
    for key in keys:
        parts = []
        names = list(by_group)
        for i, a in enumerate(names):
            for b in names[i + 1:]:
                if [k for k in keys if first[a].get(k) != first[b].get(k)] != [key]:
                    continue
                sa, sb = metric_spread(by_group[a], METRIC), metric_spread(by_group[b], METRIC)
                if sa is None or sb is None:
                    continue
                parts.append(_pair(first[a], sa, first[b], sb, key, [k for k in keys if k != key]))
        if parts:
            lines.append(f"- **{key}**: " + "; ".join(parts) + ".")
    return lines


def _pair(ha: dict, sa: Spread, hb: dict, sb: Spread, key: str, others: list[str]) -> str:
    where = ", ".join(f"{k}={ha.get(k)}" for k in others)
    two_se = 2 * math.sqrt((sa.std or 0) ** 2 / sa.n + (sb.std or 0) ** 2 / sb.n)
    diff = sb.mean - sa.mean
    head = f"{ha.get(key)} {sa.mean:.1f} vs {hb.get(key)} {sb.mean:.1f}" + (f" (with {where})" if where else "")
    if within_noise(sa, sb):
        return f"{head}: within noise (|difference| {abs(diff):.1f} <= 2 SE {two_se:.1f})"
    better = ha.get(key) if diff > 0 else hb.get(key)
    return f"{head}: {better} is better by {abs(diff):.1f} (> 2 SE {two_se:.1f})"


def section(sweep: Path, records: list[RunRecord], by_group: dict[str, list[RunRecord]]) -> str:
    num = int(next(r.metrics.get("eval/num_samples", 0) for r in records)) or 300
    noise = noise_scores(records[0], num)
    table = comparison_text(records, sort=METRIC)
    table_part, _, legend = table.partition("\n\n")
    return "\n".join([
        f"<!-- generated by: python docs/make_ablation_figure.py {sweep} ... --doc; do not edit by hand -->",
        f"`diffkit compare {sweep} --sort {METRIC}`:",
        "",
        "```text",
        table_part.rstrip(),
        "```",
        "",
        legend.strip(),
        "",
        f"For scale: {num} images of pure noise (N(0, I) clamped to [-1, 1]) score "
        + ", ".join(f"{k} {v:.4g}" for k, v in noise.items()) + " under the same metrics.",
        "",
        f"Differences in {METRIC} between groups that differ in one hyperparameter:",
        "",
        *findings(by_group, records),
    ])


def write_section(doc: Path, name: str, text: str) -> None:
    start, end = f"<!-- results:{name}:start -->", f"<!-- results:{name}:end -->"
    page = doc.read_text()
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.S)
    if not pattern.search(page):
        raise SystemExit(f"{doc}: no {start} ... {end} markers")
    doc.write_text(pattern.sub(lambda _: f"{start}\n{text}\n{end}", page))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("sweep", type=Path)
    p.add_argument("png", type=Path)
    p.add_argument("--doc", type=Path, help="a page whose results:<sweep name> section is rewritten")
    args = p.parse_args()
    records = [r for r in find_runs([str(args.sweep)]) if r.status == "completed"]
    by_group = groups(records)
    draw(by_group, args.png)
    print(args.png)
    if args.doc:
        write_section(args.doc, args.sweep.name, section(args.sweep, records, by_group))
        print(args.doc)


if __name__ == "__main__":
    main()
