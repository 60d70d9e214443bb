"""Draw the figures of the concept pages from the code (PIL only, no plotting library).

    python docs/make_figures.py          # write docs/img/*.png and docs/img/figures.json
    python docs/make_figures.py OUT_DIR  # write them elsewhere (the tests do)

Every registered scheduler, built with its defaults, appears in the forward-process
strip and the alphas_cumprod plot; ``figures.json`` records what each figure shows,
so a test notices when a new scheduler makes a figure stale.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch
from PIL import Image, ImageDraw, ImageFont

from diffkit import load_plugins
from diffkit.registry import Registry
from diffkit.runner.sample import forward_process

OUT = Path(__file__).resolve().parent / "img"
PALETTE = [
    (31, 119, 180),
    (214, 39, 40),
    (44, 160, 44),
    (255, 127, 14),
    (148, 103, 189),
    (140, 86, 75),
    (227, 119, 194),
    (23, 190, 207),
]
COLUMNS = 10


def font(size: int = 14) -> ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def schedulers(registry: Registry) -> dict[str, torch.nn.Module]:
    """The discrete schedules (the figures plot abar over the T timesteps)."""
    built = {name: registry.build("scheduler", {"name": name}) for name in registry.names("scheduler")}
    return {name: s for name, s in built.items() if s.discrete}


def to_pil(x: torch.Tensor, scale: int) -> Image.Image:
    """x: (1, H, W) in [-1, 1] -> grey PIL image upscaled `scale` times (nearest)."""
    arr = ((x[0].clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).numpy()
    im = Image.fromarray(arr, mode="L")
    return im.resize((im.width * scale, im.height * scale), Image.NEAREST)


def forward_strip(registry: Registry, scheds: dict[str, torch.nn.Module]) -> tuple[Image.Image, dict]:
    """One digit noised by q(x_t | x_0) at COLUMNS evenly spaced t, one row per scheduler."""
    data = registry.build("dataset", {"name": "digits"}).load("train")
    x0 = data.images[:1].float() / 127.5 - 1.0
    x0 = torch.nn.functional.interpolate(x0, size=16, mode="bilinear", align_corners=False)
    cell, label_w, top = 64, 120, 24
    img = Image.new("RGB", (label_w + COLUMNS * (cell + 4), top + len(scheds) * (cell + 4)), "white")
    draw = ImageDraw.Draw(img)
    shown = {}
    for row, (name, sched) in enumerate(scheds.items()):
        T = sched.num_timesteps
        ts, xt = forward_process(sched, x0, COLUMNS, seed=0)
        y = top + row * (cell + 4)
        draw.text((4, y + cell // 2 - 8), name, fill="black", font=font())
        for col in range(COLUMNS):
            img.paste(to_pil(xt[col], cell // 16), (label_w + col * (cell + 4), y))
            if row == 0:
                draw.text((label_w + col * (cell + 4), 4), f"t={int(ts[col])}", fill="black", font=font(12))
        shown[name] = {"num_timesteps": T, "t": ts.tolist()}
    return img, shown


def schedule_plot(scheds: dict[str, torch.nn.Module]) -> tuple[Image.Image, dict]:
    """alphas_cumprod (the signal kept, abar_t) against t / T for every scheduler."""
    w, h, left, bottom, pad = 640, 400, 60, 50, 20
    img = Image.new("RGB", (w, h), "white")
    draw = ImageDraw.Draw(img)
    x0, x1, y0, y1 = left, w - pad, h - bottom, pad
    draw.rectangle((x0, y1, x1, y0), outline="black")
    for i in range(6):
        v = i / 5
        yy = y0 - v * (y0 - y1)
        xx = x0 + v * (x1 - x0)
        draw.line((x0 - 4, yy, x0, yy), fill="black")
        draw.text((x0 - 34, yy - 8), f"{v:.1f}", fill="black", font=font(12))
        draw.line((xx, y0, xx, y0 + 4), fill="black")
        draw.text((xx - 10, y0 + 8), f"{v:.1f}", fill="black", font=font(12))
    draw.text(((x0 + x1) // 2 - 16, h - 22), "t / T", fill="black", font=font())
    draw.text((x0 + 8, y1 + 6), "abar_t", fill="black", font=font())
    shown = {}
    for i, (name, sched) in enumerate(scheds.items()):
        abar = sched.alphas_cumprod.double()
        T = abar.numel()
        pts = [(x0 + (k / max(1, T - 1)) * (x1 - x0), y0 - float(abar[k]) * (y0 - y1)) for k in range(T)]
        color = PALETTE[i % len(PALETTE)]
        draw.line(pts, fill=color, width=2)
        draw.line((x1 - 150, y1 + 14 + 18 * i, x1 - 120, y1 + 14 + 18 * i), fill=color, width=3)
        draw.text((x1 - 114, y1 + 6 + 18 * i), name, fill="black", font=font(13))
        shown[name] = {"num_timesteps": T, "abar_last": round(float(abar[-1]), 6)}
    return img, shown


def embedding_heatmap(registry: Registry, dim: int = 128, steps: int = 400) -> tuple[Image.Image, dict]:
    """Sinusoidal embeddings of t = 0..steps-1 (rows) by feature (columns), blue -1 .. red +1."""
    emb = registry.build("time_embedding", {"name": "sinusoidal", "dim": dim})(torch.arange(steps))
    v = emb.clamp(-1, 1)
    pos, neg = v.clamp_min(0), (-v).clamp_min(0)
    rgb = torch.stack([255 - 255 * neg, 255 - 255 * (pos + neg), 255 - 255 * pos], dim=-1)
    im = Image.fromarray(rgb.round().to(torch.uint8).numpy(), mode="RGB").resize((dim * 4, steps), Image.NEAREST)
    img = Image.new("RGB", (im.width + 70, im.height + 40), "white")
    img.paste(im, (60, 30))
    draw = ImageDraw.Draw(img)
    draw.text(
        (60, 6),
        f"feature 0 .. {dim // 2 - 1}: sin      feature {dim // 2} .. {dim - 1}: cos",
        fill="black",
        font=font(13),
    )
    for t in range(0, steps, 100):
        draw.text((8, 30 + t - 7), f"t={t}", fill="black", font=font(12))
    return img, {"name": "sinusoidal", "dim": dim, "t": [0, steps - 1]}


def main(out: Path = OUT) -> dict:
    registry = load_plugins(autoload=False).registry
    scheds = schedulers(registry)
    out.mkdir(parents=True, exist_ok=True)
    manifest = {}
    for name, (img, shown) in {
        "forward_process.png": forward_strip(registry, scheds),
        "schedules.png": schedule_plot(scheds),
        "time_embedding.png": embedding_heatmap(registry),
    }.items():
        img.save(out / name, optimize=True)
        manifest[name] = {"size": list(img.size), "shows": shown}
    (out / "figures.json").write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    return manifest


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT)
