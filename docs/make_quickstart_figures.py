"""The pictures of the quickstart: what its commands give a user, made by running them.

    python docs/make_quickstart_figures.py          # write docs/img/quickstart_*.png
    python docs/make_quickstart_figures.py OUT_DIR  # write them elsewhere

1. ``diffkit train configs/tiny.yaml`` and ``diffkit sample RUN --num 16 --out grid.png``,
   exactly as the quickstart runs them; the grid is shown enlarged (8x8 pixels are tiny).
2. ``tensorboard --logdir`` on that run, photographed by headless Chromium: the Scalars
   view and the Images view (needs ``tensorboard`` and ``chromium`` on PATH).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from PIL import Image

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "docs" / "img"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--hide-scrollbars",
]
#: TensorBoard views: file name -> URL fragment.
VIEWS = {"quickstart_tensorboard_scalars.png": "#scalars", "quickstart_tensorboard_images.png": "#images"}


def diffkit(*args: str, cwd: Path) -> str:
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    return subprocess.run(
        [sys.executable, "-m", "diffkit", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True
    ).stdout.strip()


def sample_grid(work: Path, out: Path) -> Path:
    """Train the quickstart's first model, sample its 16-image grid, enlarge it 4x."""
    (work / "configs").symlink_to(REPO / "configs")
    diffkit("train", "configs/tiny.yaml", "run.dir=runs/first", cwd=work)
    diffkit("sample", "runs/first", "--num", "16", "--out", "grid.png", cwd=work)
    grid = Image.open(work / "grid.png")
    path = out / "quickstart_samples.png"
    grid.resize((grid.width * 4, grid.height * 4), Image.NEAREST).save(path, optimize=True)
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def screenshot(url: str, path: Path, size: str = "960,720") -> None:
    """A headless Chromium picture of `url`, after 15 s of (virtual) time for its scripts;
    960 px wide, so that its text stays legible in the docs' column."""
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(
            [
                shutil.which("chromium") or "chromium",
                *CHROMIUM_FLAGS,
                f"--user-data-dir={profile}",
                f"--window-size={size}",
                "--virtual-time-budget=15000",
                f"--screenshot={path}",
                url,
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )


def tensorboard_views(logdir: Path, out: Path) -> list[Path]:
    """Start TensorBoard on `logdir`, photograph each of VIEWS, stop it."""
    port = free_port()
    server = subprocess.Popen(
        ["tensorboard", "--logdir", str(logdir), "--port", str(port), "--bind_all"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"http://localhost:{port}/data/runs", timeout=2).read()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        paths = []
        for name, fragment in VIEWS.items():
            screenshot(f"http://localhost:{port}/{fragment}", out / name)
            paths.append(out / name)
        return paths
    finally:
        server.terminate()
        server.wait(timeout=30)


def main(out: Path = OUT) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        paths = [sample_grid(work, out)]
        paths += tensorboard_views(work / "runs", out)
    return paths


if __name__ == "__main__":
    for p in main(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT):
        print(p)
