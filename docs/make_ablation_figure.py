"""Write a sweep's results into the docs: the interval plot of ``diffkit compare --plot``
as a PNG and, with ``--doc``, the section between ``<!-- results:NAME:start -->`` and
``<!-- results:NAME:end -->`` of a page: the ``diffkit compare`` tables and verdicts, the
scores of pure noise under the same metrics, the warnings diffkit gave for the runs, and
prose written from the verdicts (so the page cannot contradict its own table).

    python docs/make_ablation_figure.py runs/sweeps/digits_quick docs/images/digits_quick.png --doc docs/ablations.md
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import torch

from diffkit import load_plugins
from diffkit.config import compose, read_yaml
from diffkit.runner import rundir
from diffkit.runner.data import fit_size, to_model_range
from diffkit.runner.evaluate import Evaluator
from diffkit.sweep import find_runs
from diffkit.sweep.collect import RunRecord
from diffkit.sweep.plot import plot_comparison
from diffkit.sweep.summary import build, markdown
from diffkit.sweep.verdicts import Comparison, Verdict


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


def warnings_of(c: Comparison) -> list[str]:
    """The warnings diffkit wrote for the runs (``RUN/warnings.txt``), once per arm and line."""
    lines = []
    for arm in c.arms:
        seen: list[str] = []
        for r in arm.runs:
            path = r.dir / rundir.WARNINGS
            for line in path.read_text().splitlines() if path.is_file() else []:
                if line.strip() and line not in seen:
                    seen.append(line)
        lines += [f"- **{arm.name}** ({len(arm.runs)} runs): {line}" for line in seen]
    return lines


def one_key_pairs(c: Comparison, verdicts: list[Verdict]) -> dict[str, list[Verdict]]:
    """The verdicts between arms that differ in exactly one grouping key, by that key."""
    values = {a.name: a.values for a in c.arms}
    out: dict[str, list[Verdict]] = {}
    for v in verdicts:
        differ = [k for k in c.keys if values[v.first].get(k) != values[v.second].get(k)]
        if len(differ) == 1:
            out.setdefault(differ[0], []).append(v)
    return out


def prose(c: Comparison) -> list[str]:
    """Sentences written from the verdicts on the primary metric only."""
    m = c.primary
    verdicts = c.verdicts.get(m or "", [])
    if not verdicts:
        return ["No metric with a known direction has values in two arms: nothing to conclude."]
    resolved = [v for v in verdicts if v.resolved]
    n = max(v.diff.n for v in verdicts)
    lines = [
        (
            f"**What this sweep shows on {m}** (written from the verdicts above): {len(resolved)} of the "
            f"{len(verdicts)} pairs of arms are resolved at n = {n} seeds after Holm's correction."
        )
    ]
    lines.append("")  # a Markdown list needs a blank line before it
    values = {a.name: a.values for a in c.arms}
    for key, vs in one_key_pairs(c, verdicts).items():
        parts = []
        for v in vs:
            where = ", ".join(f"{k}={values[v.first][k]}" for k in c.keys if k != key)
            a, b = values[v.first][key], values[v.second][key]
            lo, hi = sorted((abs(v.diff.lo), abs(v.diff.hi)))
            said = (
                f"{a} beats {b} by {abs(v.diff.value):.3g} [{lo:.3g}, {hi:.3g}]"
                if v.resolved
                else f"{a} vs {b}: not resolved ({v.diff.value:+.3g} [{v.diff.lo:.3g}, "
                f"{v.diff.hi:.3g}]" + (f", ~{v.needed} seeds would resolve it)" if v.needed else ")")
            )
            parts.append(f"{said}" + (f" with {where}" if where else ""))
        lines.append(f"- **{key}**: " + "; ".join(parts) + ".")
    lines.append("")
    best = c.arms[0].name
    beaten = [v.second for v in verdicts if v.first == best and v.resolved]
    rest = [a.name for a in c.arms[1:] if a.name not in beaten]
    if not rest:
        lines.append(f"{best} has the best mean {m} and is resolved against every other arm.")
    else:
        lines.append(
            f"{best} has the best mean {m}, but it is not resolved against {', '.join(rest)}: "
            "do not call it the winner from this sweep."
        )
    return lines


def section(sweep: Path, records: list[RunRecord]) -> str:
    c = build(records)
    num = int(next(r.metrics.get("eval/num_samples", 0) for r in records)) or 300
    noise = noise_scores(records[0], num)
    warned = warnings_of(c)
    parts = [
        f"<!-- generated by: python docs/make_ablation_figure.py {sweep} ... --doc; do not edit by hand -->",
        f"`diffkit compare {sweep}`:",
        "",
        markdown(c, verdict_limit=50).rstrip(),
        "",
        f"For scale: {num} images of pure noise (N(0, I) clamped to [-1, 1]) score "
        + ", ".join(f"{k} {v:.4g}" for k, v in noise.items())
        + " under the same metrics.",
        "",
        *prose(c),
    ]
    if warned:
        parts += ["", "Warnings diffkit gave when these runs started (`RUN/warnings.txt`):", "", *warned]
    return "\n".join(parts)


def write_section(doc: Path, name: str, text: str) -> None:
    start, end = f"<!-- results:{name}:start -->", f"<!-- results:{name}:end -->"
    page = doc.read_text()
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.DOTALL)
    if not pattern.search(page):
        raise SystemExit(f"{doc}: no {start} ... {end} markers")
    doc.write_text(pattern.sub(lambda _: f"{start}\n{text}\n{end}", page))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("sweep", type=Path)
    p.add_argument("png", type=Path)
    p.add_argument("--doc", type=Path, help="a page whose results:<sweep name> section is rewritten")
    p.add_argument("--name", help="the section's name (default: the sweep directory's name)")
    args = p.parse_args()
    records = [r for r in find_runs([str(args.sweep)]) if r.status == "completed"]
    plot_comparison(records, args.png)
    print(args.png)
    if args.doc:
        write_section(args.doc, args.name or args.sweep.name, section(args.sweep, records))
        print(args.doc)


if __name__ == "__main__":
    main()
