"""Which hyperparameters group runs into arms (by default: all that differ but ``seed``);
the statistics over an arm are in `diffkit.sweep.verdicts`."""

from __future__ import annotations

from collections import Counter

from diffkit.errors import ConfigError, closest
from diffkit.runner.scores import REPEATS
from diffkit.sweep.collect import RunRecord, differing

#: the hyperparameters that tell repeats of one configuration apart.
REPEAT_KEYS = ("seed",)


def group_keys(records: list[RunRecord], by: list[str] | None) -> list[str]:
    """`by`, checked against the records' hyperparameters, else every differing one but
    ``seed`` and the parameters that follow from a differing component name (linear's
    ``scheduler.beta_start`` where ``scheduler.name`` is linear or cosine)."""
    if not by:
        keys = [k for k in differing(records) if k not in REPEAT_KEYS]
        return [k for k in keys if not _follows_name(records, k, keys)]
    known = list(dict.fromkeys(k for r in records for k in r.hparams))
    for key in by:
        if key not in known:
            hint = closest(key, known)
            raise ConfigError(
                f"--by {key!r} is not a hyperparameter of these runs; "
                + (f"{hint} " if hint else "")
                + "see diffkit compare --all for every key"
            )
    return list(by)


def _follows_name(records: list[RunRecord], key: str, keys: list[str]) -> bool:
    """True when `key` is ``<section>.<param>``, ``<section>.name`` is in `keys`, and each
    name has one value of `key`."""
    section, _, param = key.rpartition(".")
    name = f"{section}.name"
    if not section or param == "name" or name not in keys:
        return False
    seen: dict[str, set[str]] = {}
    for r in records:
        seen.setdefault(repr(r.hparams.get(name)), set()).add(repr(r.hparams.get(key)))
    return all(len(v) == 1 for v in seen.values())


def worth_grouping(records: list[RunRecord], keys: list[str]) -> bool:
    """True when some group has several runs or some run has repeated evaluations."""
    counts = Counter(_key(r, keys) for r in records)
    return max(counts.values(), default=0) > 1 or any(int(r.metrics.get(REPEATS) or 0) > 1 for r in records)


def _key(record: RunRecord, keys: list[str]) -> tuple:
    return tuple(repr(record.hparams.get(k)) for k in keys)
