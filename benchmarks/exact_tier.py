"""The exact tier's sweep, timed: ``configs/sweeps/exact_2d.yaml`` trained end to end, then
its ``diffkit compare`` table; both replace the ``exact_2d`` section of docs/howto/exact-tier.md.

    python -m benchmarks.exact_tier [--jobs N] [--dir DIR] [--doc PATH] [--plot PNG]

The sweep file's launcher (``inline``: every run in the sweep's own process) unless ``--jobs N``
asks for N local processes at once.

``--dir``: the sweep directory (default: a fresh temporary one; a finished sweep there is
skipped by ``diffkit sweep``, so time a fresh one). JSON on stdout: the wall-clock seconds
of the sweep, the machine and the table. ``--plot``: where ``diffkit compare --plot`` draws the
sweep's interval plot (default docs/images/exact_2d.png when the page is written; '-': none).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks import report
from benchmarks.common import machine

REPO = Path(__file__).resolve().parents[1]
SWEEP = REPO / "configs" / "sweeps" / "exact_2d.yaml"
DOC = REPO / "docs" / "howto" / "exact-tier.md"
PLOT = REPO / "docs" / "images" / "exact_2d.png"


def diffkit(*args: str) -> str:
    """Run ``python -m diffkit ARGS``; its stdout (a failure raises, with its output)."""
    proc = subprocess.run([sys.executable, "-m", "diffkit", *args], capture_output=True, text=True, check=False)
    if proc.returncode:
        raise RuntimeError(f"diffkit {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc.stdout


def measure(sweep_dir: Path, jobs: int | None, plot: Path | None = None) -> dict[str, Any]:
    """Train the sweep into `sweep_dir` (with `jobs` local processes at once, or its own
    launcher for None); time it and compare it (drawing the interval plot to `plot`)."""
    where = machine()
    start = time.perf_counter()
    launch = ["--launcher", "local", "--jobs", str(jobs)] if jobs else []
    diffkit("sweep", str(SWEEP), "--dir", str(sweep_dir), *launch)
    seconds = time.perf_counter() - start
    if plot is not None:
        diffkit("compare", str(sweep_dir), "--plot", str(plot))
    return {
        "machine": where,
        "jobs": jobs,
        "seconds": round(seconds, 1),
        "table": diffkit("compare", str(sweep_dir)),
        "plot": str(plot) if plot is not None else None,
    }


def section(res: dict[str, Any]) -> str:
    """The page's section: the machine, the measured time and the compare table."""
    m = res["machine"]
    command = "python -m benchmarks.exact_tier" + (f" --jobs {res['jobs']}" if res["jobs"] else "")
    how = f"{res['jobs']} local processes at once" if res["jobs"] else "the sweep file's `inline` launcher"
    return "\n".join(
        [
            (
                f"Measured by `{command}` ({how}): the 12 runs took **{res['seconds']:.0f} s** of wall-clock time, "
                f"start-up and scoring included, on {m['cpu_cores']} CPU cores ({m['cpu']}, bf16 {m['cpu_bf16']}), torch {m['torch']}, "
                f"load average {m['load_average'][0]} at the start (a 1-minute average: it includes a benchmark "
                "that ran just before). The table is `diffkit compare` of that sweep:"
            ),
            "",
            res["table"].rstrip(),
            *(
                [
                    "",
                    "![exact_2d: mean and 95 % interval of each metric per arm, seeds as dots](../images/exact_2d.png)",
                ]
                if res.get("plot")
                else []
            ),
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, help="local processes at once (default: the sweep file's launcher)")
    parser.add_argument("--dir", type=Path, default=None)
    parser.add_argument("--doc", default=str(DOC), help="the Markdown file to update ('-': none)")
    parser.add_argument(
        "--plot", help="the interval plot's PNG (default docs/images/exact_2d.png with the page; '-': none)"
    )
    args = parser.parse_args(argv)
    plot = args.plot or (str(PLOT) if args.doc != "-" else "-")
    with tempfile.TemporaryDirectory() as tmp:
        res = measure(args.dir or Path(tmp) / "exact_2d", args.jobs, None if plot == "-" else Path(plot))
    if args.doc != "-":
        report.replace_section(Path(args.doc), "exact_2d", section(res))
    print(json.dumps(res, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
