"""Draw a sweep's training-loss curves and final FIDs from its TensorBoard event files
into one PNG, with PIL only:

    python docs/make_ablation_figure.py runs/sweeps/digits_quick docs/images/digits_quick.png
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from PIL import Image, ImageDraw
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"]
W, H, PAD = 900, 380, 50


def runs(sweep: Path) -> list[tuple[str, list[tuple[int, float]], float | None]]:
    out = []
    for run_dir in sorted(p for p in sweep.iterdir() if (p / "config.yaml").is_file()):
        acc = EventAccumulator(str(run_dir), size_guidance={"scalars": 0})
        acc.Reload()
        loss = [(e.step, e.value) for e in acc.Scalars("train/loss")]
        fid = json.loads((run_dir / "metrics.json").read_text()).get("eval/fid") if (run_dir / "metrics.json").is_file() else None
        out.append((run_dir.name, loss, fid))
    return out


def draw(data: list[tuple[str, list[tuple[int, float]], float | None]], path: Path) -> None:
    img = Image.new("RGB", (W, H + 30 * len(data)), "white")
    d = ImageDraw.Draw(img)
    half = W // 2
    # -- left: train/loss against step
    steps = [s for _, loss, _ in data for s, _ in loss]
    values = [v for _, loss, _ in data for _, v in loss]
    x0, x1, y0, y1 = PAD, half - 20, H - PAD, PAD
    d.rectangle([x0, y1, x1, y0], outline="black")
    d.text((x0, 15), f"train/loss  ({min(values):.3f} .. {max(values):.3f})", fill="black")
    d.text((x0, y0 + 8), f"step 0 .. {max(steps)}", fill="black")
    for i, (_, loss, _) in enumerate(data):
        pts = [(x0 + (x1 - x0) * s / max(steps), y0 - (y0 - y1) * (v - min(values)) / (max(values) - min(values) or 1))
               for s, v in loss]
        d.line(pts, fill=COLORS[i % len(COLORS)], width=2)
    # -- right: eval/fid per run (lower is better)
    fids = [f for _, _, f in data if f is not None]
    bx0, bx1 = half + PAD, W - 20
    d.text((bx0, 15), "eval/fid (lower is better)", fill="black")
    bar_w = (bx1 - bx0) / max(1, len(data))
    for i, (_, _, fid) in enumerate(data):
        if fid is None:
            continue
        top = y0 - (y0 - y1) * fid / max(fids)
        d.rectangle([bx0 + i * bar_w + 4, top, bx0 + (i + 1) * bar_w - 4, y0], fill=COLORS[i % len(COLORS)])
        d.text((bx0 + i * bar_w + 6, top - 14), f"{fid:.1f}", fill="black")
    d.line([bx0, y0, bx1, y0], fill="black")
    for i, (name, _, _) in enumerate(data):  # legend
        y = H + 30 * i
        d.rectangle([PAD, y + 4, PAD + 20, y + 16], fill=COLORS[i % len(COLORS)])
        d.text((PAD + 30, y + 4), name, fill="black")
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path)


if __name__ == "__main__":
    draw(runs(Path(sys.argv[1])), Path(sys.argv[2]))
    print(sys.argv[2])
