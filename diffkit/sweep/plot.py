"""Interval estimates per arm and metric in the style of rliable's interval plots: one
panel per metric, one row per arm (best first on the primary metric), a bar for the 95 %
interval, a tick for the mean and a dot per seed. 1280 px wide; fonts are 14-16 pt at
that size, so they stay readable when a phone shrinks the image to its width."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from diffkit.sweep.collect import RunRecord
from diffkit.sweep.summary import build

DPI = 128
WIDTH_IN = 10.0  # x DPI = 1280 px
COLS = 2
COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]


def figure(records: list[RunRecord], by: list[str] | None = None, sort: str | None = None) -> Any:
    """A matplotlib Figure of the comparison of `records`, or None when no metric has values."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    c = build(records, by, sort)
    metrics = sorted(
        (m for m in c.metrics if any((a.name, m) in c.estimates for a in c.arms)), key=lambda m: m != c.primary
    )
    if not metrics:
        return None
    cols = min(COLS, len(metrics))
    rows = -(-len(metrics) // cols)
    arms = c.arms
    height = rows * (1.1 + 0.5 * len(arms)) + 0.6
    plt.rcParams.update(
        {"font.size": 14, "axes.titlesize": 16, "axes.labelsize": 14, "xtick.labelsize": 13, "ytick.labelsize": 14}
    )
    fig, axes = plt.subplots(rows, cols, figsize=(WIDTH_IN, height), dpi=DPI, squeeze=False)
    for k, m in enumerate(metrics):
        ax = axes[k // cols][k % cols]
        for i, arm in enumerate(arms):
            e = c.estimates.get((arm.name, m))
            y = len(arms) - 1 - i
            color = COLORS[i % len(COLORS)]
            if e is None:
                continue
            if e.mean.lo is not None and e.mean.hi is not None:
                ax.barh(y, e.mean.hi - e.mean.lo, left=e.mean.lo, height=0.6, color=color, alpha=0.75)
            ax.plot([e.mean.value] * 2, [y - 0.3, y + 0.3], color="black", linewidth=2.5)
            seeds = list(e.seeds.values())
            ax.scatter(seeds, [y] * len(seeds), s=22, color="black", zorder=3)
        higher = c.directions.get(m, (None, ""))[0]
        better = "" if higher is None else (" (higher is better)" if higher else " (lower is better)")
        ax.set_title(m + better)
        ax.set_xlabel(m)
        ax.set_yticks(range(len(arms)))
        ax.set_yticklabels([a.name for a in reversed(arms)] if k % cols == 0 else [""] * len(arms))
        ax.grid(axis="x", alpha=0.3)
        ax.use_sticky_edges = False  # bars otherwise pin the axis to their ends
        ax.margins(x=0.06)
        ax.set_ylim(-0.6, len(arms) - 0.4)
    for k in range(len(metrics), rows * cols):
        axes[k // cols][k % cols].axis("off")
    n = max((e.mean.n for e in c.estimates.values()), default=0)
    fig.suptitle(f"mean (tick) and 95 % interval (bar) over seeds (dots), n <= {n} per arm", fontsize=14)
    fig.tight_layout()
    return fig


def plot_comparison(
    records: list[RunRecord], out: str | Path, by: list[str] | None = None, sort: str | None = None
) -> Path:
    """Write the figure of `figure` to `out` (PNG, 1280 px wide); return the path."""
    import matplotlib.pyplot as plt

    from diffkit.atomic import atomic_path
    from diffkit.errors import ConfigError

    fig = figure(records, by, sort)
    if fig is None:
        raise ConfigError("--plot: no metric of these runs has a value to draw")
    out = Path(out)
    with atomic_path(out) as tmp:
        fig.savefig(tmp, dpi=DPI, format=out.suffix.lstrip(".") or "png")
    plt.close(fig)
    return out
