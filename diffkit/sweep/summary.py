"""The comparison of runs that ``diffkit compare``, the end of ``diffkit sweep`` and the
sweep's TensorBoard text all show: arms with interval estimates, sorted by the primary
metric, then the verdicts; as Markdown (fitted to ~100 columns), CSV or JSON."""

from __future__ import annotations

import json
import textwrap
from typing import Any

from diffkit.sweep import comparable, posthoc
from diffkit.sweep.collect import RunRecord, metric_columns
from diffkit.sweep.directions import directions
from diffkit.sweep.groups import group_keys
from diffkit.sweep.render import finite, render
from diffkit.sweep.verdicts import POWER_NOTE, Arm, Comparison, compare_arms

WIDTH = 100
PREFERRED = ("eval/fid", "eval/w2")

LEGEND = (
    "Cells: mean [95 % interval] over seeds (a percentile bootstrap, scipy.stats.bootstrap, joined with the "
    "Student-t interval, which holds the level at 2-5 seeds); ↓ lower is better, ↑ higher. Verdicts compare "
    "each pair of arms seed by seed (paired: the arms share seeds) and are Holm-corrected over the pairs of a "
    "metric; a difference is shown when its corrected p < 0.05. " + POWER_NOTE
)


def arms_of(records: list[RunRecord], by: list[str] | None = None) -> tuple[list[str], list[Arm]]:
    """(grouping keys, arms): runs that agree on the keys (default: every differing
    hyperparameter but seed) form an arm, named by its values joined with ``-``."""
    keys = group_keys(records, by)
    arms: dict[tuple, Arm] = {}
    for r in records:
        values = {k: r.hparams.get(k) for k in keys}
        key = tuple(repr(v) for v in values.values())
        if key not in arms:
            arms[key] = Arm("-".join(str(v) for v in values.values()) or "all", values, [])
        arms[key].runs.append(r)
    return keys, list(arms.values())


def result_metrics(records: list[RunRecord]) -> list[str]:
    """Numeric result keys (no bookkeeping, no ``*_std``), eval metrics first."""
    _, results = metric_columns(records)
    keys = [
        m
        for m in results
        if not m.endswith("_std")
        and any(isinstance(r.metrics.get(m), (int, float)) and not isinstance(r.metrics.get(m), bool) for r in records)
    ]
    return sorted(keys, key=lambda k: (not k.startswith("eval/"), k))


def primary_metric(metrics: list[str], sort: str | None) -> str | None:
    if sort in metrics:
        return sort
    return next((m for m in PREFERRED if m in metrics), next(iter(metrics), None))


def build(records: list[RunRecord], by: list[str] | None = None, sort: str | None = None) -> Comparison:
    """Arms, estimates and verdicts (on the eval metrics, else on every metric) of `records`."""
    keys, arms = arms_of(records, by)
    metrics = result_metrics(records)
    dirs = directions(records, metrics)
    primary = primary_metric(metrics, sort)
    judged = [m for m in metrics if m.startswith("eval/")] or metrics
    comparison = compare_arms(arms, metrics, dirs, keys, primary, judged)
    _sort_arms(comparison, sort)
    return comparison


def _sort_arms(c: Comparison, sort: str | None) -> None:
    """Best first on the primary metric (its direction; unknown: ascending), arms without it last;
    `sort` may also name a grouping key."""
    if sort in c.keys:
        c.arms.sort(key=lambda a: str(a.values.get(sort)))
        return
    primary = c.primary
    if primary is None:
        return
    sign = -1.0 if c.directions.get(primary, (None, ""))[0] else 1.0
    c.arms.sort(
        key=lambda a: (
            c.estimates.get((a.name, primary)) is None,
            sign * c.estimates[(a.name, primary)].mean.value if (a.name, primary) in c.estimates else 0.0,
        )
    )


def _arrow(c: Comparison, m: str) -> str:
    higher = c.directions.get(m, (None, ""))[0]
    return m if higher is None else f"{m} {'↑' if higher else '↓'}"


def _cell(interval: Any) -> str:
    if interval is None:
        return ""
    if interval.lo is None:
        return f"{interval.value:.3g}"
    return f"{interval.value:.3g} [{interval.lo:.3g}, {interval.hi:.3g}]"


def _base_columns(c: Comparison) -> list[str]:
    cols = [*c.keys, "n"]
    if posthoc.AXIS in c.keys:
        cols.insert(c.keys.index(posthoc.AXIS) + 1, posthoc.BEST)
    if any(a.status != "completed" for a in c.arms):
        cols.append("status")
    return cols


def _best_ema(c: Comparison) -> dict[str, str]:
    """{arm name: ``*`` or ""}: ``*`` on the post-hoc EMA length whose mean scores best among
    the arms that agree on every other key (`posthoc.mark_best` on the arms' means)."""
    rows = [
        {
            **a.values,
            **{m: c.estimates[(a.name, m)].mean.value for m in c.metrics if (a.name, m) in c.estimates},
        }
        for a in c.arms
    ]
    _, marked = posthoc.mark_best([*c.keys, *c.metrics], rows, c.keys)
    return {a.name: str(row.get(posthoc.BEST, "")) for a, row in zip(c.arms, marked)}


def _base_rows(c: Comparison) -> list[dict[str, Any]]:
    """Per arm: its key values (and ``best_ema``), n and status."""
    best = _best_ema(c) if posthoc.AXIS in c.keys else {}
    return [
        {**a.values, **({posthoc.BEST: best[a.name]} if best else {}), "n": len(a.runs), "status": a.status}
        for a in c.arms
    ]


def markdown(c: Comparison, verdict_limit: int = 12) -> str:
    """Tables fitted to WIDTH columns (metrics beyond it continue in another table), the
    IQM table where an arm has >= 4 seeds, the training / evaluation spread where runs
    have sample sets, then the verdicts and the legend."""
    base = _base_columns(c)
    rows = _base_rows(c)
    cells = {
        (a.name, m): _cell(c.estimates[(a.name, m)].mean) if (a.name, m) in c.estimates else ""
        for a in c.arms
        for m in c.metrics
    }
    parts = _fitted(base, rows, c, cells, {m: _arrow(c, m) for m in c.metrics})
    if any(e.iqm is not None for e in c.estimates.values()):
        iqm = {
            (a.name, m): _cell(c.estimates[(a.name, m)].iqm) if (a.name, m) in c.estimates else ""
            for a in c.arms
            for m in c.metrics
        }
        parts.append(
            "IQM (interquartile mean over seeds, >= 4 seeds) [95 % bootstrap interval]:\n\n"
            + "\n".join(_fitted(base, rows, c, iqm, {m: f"IQM {_arrow(c, m)}" for m in c.metrics}))
        )
    if any(e.eval_sd is not None for e in c.estimates.values()):
        spread = {(a.name, m): _spread(c, a, m) for a in c.arms for m in c.metrics}
        parts.append(
            "Spread: training sd (between seeds, evaluation noise removed) / evaluation sd "
            "(between sample sets of one model, `eval --repeats`):\n\n"
            + "\n".join(_fitted(base, rows, c, spread, {m: f"{m} sd" for m in c.metrics}))
        )
    lines = []
    if all(e.mean.n < 2 for e in c.estimates.values()):
        lines.append(
            textwrap.fill(
                "One run per arm and no sample sets: no intervals and no verdicts; put "
                "`seed: [0, 1, 2]` in the sweep's grid (or score runs with "
                "`diffkit eval --repeats K`).",
                WIDTH,
            )
        )
    for m, verdicts in c.verdicts.items() if not lines else ():
        if not verdicts:
            continue
        shown = [v for v in verdicts if v.resolved]
        higher = c.directions[m][0]
        pairs = f"{len(verdicts)} pair" + ("s" if len(verdicts) != 1 else "")
        head = f"Verdicts on {m} ({'higher' if higher else 'lower'} is better; {pairs}, {len(shown)} resolved):"
        if m == c.primary:
            listed = verdicts[:verdict_limit]
        else:
            listed = shown[:verdict_limit]
        body = [textwrap.fill(v.text, WIDTH, initial_indent="- ", subsequent_indent="  ") for v in listed]
        rest = len(verdicts if m == c.primary else shown) - len(listed)
        if rest > 0:
            body.append(f"- ... {rest} more (diffkit compare --format json lists every pair)")
        if m != c.primary and len(shown) < len(verdicts) and shown:
            body.append(f"- the other {len(verdicts) - len(shown)} pairs: not resolved")
        lines.append(head + ("\n\n" + "\n".join(body) if body else " none resolved."))
    parts.extend(lines)
    parts.append(textwrap.fill(LEGEND, WIDTH))
    return "\n\n".join(p.rstrip("\n") for p in parts) + "\n"


def _spread(c: Comparison, arm: Arm, m: str) -> str:
    e = c.estimates.get((arm.name, m))
    if e is None:
        return ""
    t = "-" if e.train_sd is None else f"{e.train_sd:.2g}"
    v = "-" if e.eval_sd is None else f"{e.eval_sd:.2g}"
    return f"{t} / {v}"


def _fitted(
    base: list[str], rows: list[dict[str, Any]], c: Comparison, cells: dict, headers: dict[str, str]
) -> list[str]:
    """Markdown tables of `base` columns and as many metric columns as fit in WIDTH, the
    primary metric first; metrics whose column is empty everywhere are left out."""
    order = sorted((m for m in c.metrics if any(cells[(a.name, m)] for a in c.arms)), key=lambda m: m != c.primary)
    out: list[Any] = []
    current: list[Any] = []

    def width(ms: list[str]) -> int:
        cols = [*base, *ms]
        return (
            sum(
                max(len(headers.get(k, k)), *(len(_plain(r, k, cells, a)) for r, a in zip(rows, c.arms))) + 3
                for k in cols
            )
            + 1
        )

    for m in order:
        if current and width([*current, m]) > WIDTH:
            out.append(current)
            current = []
        current.append(m)
    if current:
        out.append(current)
    tables = []
    for ms in out or [[]]:
        cols = [headers.get(k, k) for k in [*base, *ms]]
        table_rows = [
            {**{k: r.get(k) for k in base}, **{headers[m]: cells[(a.name, m)] for m in ms}}
            for r, a in zip(rows, c.arms)
        ]
        tables.append(render(cols, table_rows, "markdown"))
    return tables


def _plain(row: dict[str, Any], key: str, cells: dict, arm: Arm) -> str:
    if (arm.name, key) in cells:
        return cells[(arm.name, key)]
    value = row.get(key)
    return "" if value is None else (f"{value:.4g}" if isinstance(value, float) else str(value))


def as_rows(c: Comparison) -> tuple[list[str], list[dict[str, Any]]]:
    """One flat row per arm for CSV: keys, n, status, and per metric its mean, lo, hi, n
    (and iqm, iqm_lo, iqm_hi, train_sd, eval_sd)."""
    parts = ("", "_lo", "_hi", "_n", "_iqm", "_iqm_lo", "_iqm_hi", "_train_sd", "_eval_sd")
    best = [posthoc.BEST] if posthoc.AXIS in c.keys else []
    columns = [*c.keys, *best, "n", "status", *(f"{m}{p}" for m in c.metrics for p in parts)]
    rows = []
    for arm, row in zip(c.arms, _base_rows(c)):
        for m in c.metrics:
            e = c.estimates.get((arm.name, m))
            values = (
                [None] * len(parts)
                if e is None
                else [e.mean.value, e.mean.lo, e.mean.hi, e.mean.n, *(_triple(e.iqm)), e.train_sd, e.eval_sd]
            )
            row.update({f"{m}{p}": v for p, v in zip(parts, values)})
        rows.append(row)
    return columns, rows


def _triple(i: Any) -> tuple:
    return (None, None, None) if i is None else (i.value, i.lo, i.hi)


def as_json(c: Comparison, extra: dict[str, Any] | None = None) -> str:
    """The comparison as one JSON object (NaN and infinities as null)."""
    _, rows = as_rows(c)
    for row, arm in zip(rows, c.arms):
        row["seeds"] = {
            m: {str(k): v for k, v in c.estimates[(arm.name, m)].seeds.items()}
            for m in c.metrics
            if (arm.name, m) in c.estimates
        }
        row["arm"] = arm.name
    data = {
        "primary": c.primary,
        "group_keys": c.keys,
        "metrics": {
            m: {
                "higher_is_better": c.directions.get(m, (None, ""))[0],
                "description": c.directions.get(m, (None, ""))[1],
            }
            for m in c.metrics
        },
        "arms": rows,
        "verdicts": [
            {
                "metric": v.metric,
                "first": v.first,
                "second": v.second,
                "difference": v.diff.value,
                "lo": v.diff.lo,
                "hi": v.diff.hi,
                "n": v.diff.n,
                "paired": v.paired,
                "p": v.diff.p,
                "p_holm": v.p_holm,
                "pairs": v.pairs,
                "prob_improvement": v.prob,
                "resolved": v.resolved,
                "seeds_needed": v.needed,
                "text": v.text,
            }
            for vs in c.verdicts.values()
            for v in vs
        ],
        **(extra or {}),
    }
    return json.dumps(finite(data), indent=2, allow_nan=False, default=str) + "\n"


def report(
    records: list[RunRecord],
    by: list[str] | None = None,
    sort: str | None = None,
    fmt: str = "markdown",
    allow_incomparable: bool = False,
) -> str:
    """The comparison of `records` as text in `fmt`; raises ConfigError (before anything
    is printed) when a metric's numbers are not comparable and `allow_incomparable` is false."""
    c = build(records, by, sort)
    notes = comparable.check(records, c.arms, c.keys, c.metrics, allow_incomparable)
    if fmt == "json":
        return as_json(c, {"setup_differs": comparable.differences(records, c.metrics), "notes": notes})
    if fmt == "csv":
        return render(*as_rows(c), "csv")
    return (
        markdown(c)
        + "".join("\n" + textwrap.fill(f"Note: {n}", WIDTH, subsequent_indent="  ") for n in notes)
        + ("\n" if notes else "")
    )
