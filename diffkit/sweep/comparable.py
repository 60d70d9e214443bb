"""What differs between the runs a comparison puts side by side (their ``provenance.json``),
and which differences make their metric numbers incomparable.

A metric's numbers compare only when every run scored it in the same feature space,
against the same reference images and, unless the comparison is about sampling, with the
same number of model evaluations (NFE). NFE may differ between arms when a grouping key
is a sampler setting (``sampler.*``, ``eval.steps``): that is then what is compared; it
must still agree within an arm.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from diffkit.errors import ConfigError
from diffkit.sweep.collect import RunRecord
from diffkit.sweep.verdicts import Arm

#: per-metric fields that must agree, and the run-level fields worth showing when they differ.
STRICT = ("feature_space", "reference", "nfe")
METRIC_FIELDS = (*STRICT, "num_samples", "sampler", "ema")
RUN_FIELDS = (
    "diffkit",
    "project.git.commit",
    "project.git.dirty",
    "diffkit_source.git.commit",
    "torch",
    "python",
    "cuda",
    "hardware.cpu.model",
    "hardware.gpu",
    "precision",
    "world_size",
    "batch.effective",
    "plugins",
)


def _get(data: dict[str, Any], dotted: str) -> Any:
    for part in dotted.split("."):
        if not isinstance(data, dict):
            return None
        data = data.get(part)  # type: ignore[assignment]
    return data


def _show(value: Any) -> str:
    if isinstance(value, list):  # plugins
        return (
            ", ".join(
                f"{p.get('dist') or p.get('plugin')} {p.get('version', '')}".strip()
                for p in value
                if isinstance(p, dict)
            )
            or "none"
        )
    return str(value)


def differences(records: list[RunRecord], metrics: list[str]) -> dict[str, dict[str, int]]:
    """Field -> {shown value: number of runs} for every recorded field whose value is not
    the same in all runs that have a provenance.json."""
    with_prov = [r for r in records if r.provenance]
    out: dict[str, dict[str, int]] = {}
    fields = [*RUN_FIELDS, *(f"metrics.{m}.{f}" for m in metrics for f in METRIC_FIELDS)]
    for name in fields:
        if name.startswith("metrics."):
            _, rest = name.split(".", 1)
            metric, _, field = rest.rpartition(".")
            values = [(r.provenance.get("metrics") or {}).get(metric, {}).get(field) for r in with_prov]
            values = [v for v in values if v is not None]
        else:
            values = [_get(r.provenance, name) for r in with_prov]
        counts = Counter(_show(v) for v in values)
        if len(counts) > 1:
            out[name] = dict(counts)
    return out


def check(
    records: list[RunRecord], arms: list[Arm], keys: list[str], metrics: list[str], allow: bool = False
) -> list[str]:
    """Raise ConfigError (one line naming the first incomparable field) unless `allow`;
    return notes: what differs, and the runs that could not be checked."""
    diff = differences(records, metrics)
    sampling = any(k.startswith("sampler.") or k in ("eval.steps", "sampler") for k in keys)
    bad = []
    for m in metrics:
        for field in STRICT:
            name = f"metrics.{m}.{field}"
            if name not in diff:
                continue
            if field == "nfe" and sampling and _constant_within_arms(arms, m):
                continue
            bad.append(name)
    notes = [
        f"{name} differs: " + ", ".join(f"{_short(v)} ({_runs(n)})" for v, n in diff[name].items()) for name in diff
    ]
    missing = [r.label for r in records if not r.provenance]
    if missing and len(missing) < len(records):
        notes.append(f"{len(missing)} runs have no provenance.json (trained before diffkit recorded it): not checked")
    if bad and not allow:
        first = bad[0]
        values = ", ".join(f"{_short(v)} in {_runs(n)}" for v, n in diff[first].items())
        raise ConfigError(
            f"{first} differs between the runs ({values}): their numbers are not comparable; "
            "pass --allow-incomparable to compare them anyway"
        )
    if bad:
        notes.insert(0, "compared although not comparable (--allow-incomparable): " + ", ".join(bad))
    return notes


def _constant_within_arms(arms: list[Arm], metric: str) -> bool:
    for arm in arms:
        values = {
            repr((r.provenance.get("metrics") or {}).get(metric, {}).get("nfe")) for r in arm.runs if r.provenance
        }
        if len(values) > 1:
            return False
    return True


def _runs(n: int) -> str:
    return f"{n} run" if n == 1 else f"{n} runs"


def _short(value: str) -> str:
    """A git commit as its first 12 hex digits; other values as they are."""
    return value[:12] if len(value) == 40 and all(c in "0123456789abcdef" for c in value) else value
