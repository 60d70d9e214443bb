"""What ``--resume`` may change, and the record of what it changed.

A checkpoint's weights mean something only under the config that trained them: the
noise schedule and its length T, the image size, the network, what it predicts and the
data. Resuming with another value of one of these keys would quietly continue a
different model, so it is refused unless the user asks for it (``--allow-changes``,
fine-tuning); every change made at a resume is appended to ``history.json``, so that
``config.yaml`` (the latest config) and the history together describe every step.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from diffkit.config import read_yaml
from diffkit.errors import ConfigError
from diffkit.runner import rundir

#: config sections whose keys fix what the checkpoint means, and keys inside them that do not.
MEANING = ("scheduler", "time_embedding", "denoiser", "data", "train.conditional")
HARMLESS = ("data.batch_size", "data.num_workers", "data.root")


def flat(config: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """{"a": {"b": 1}} -> {"a.b": 1}."""
    out: dict[str, Any] = {}
    for key, value in config.items():
        if isinstance(value, dict) and value:
            out.update(flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def changes(old: dict[str, Any], new: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """Keys whose values differ between two config dicts: {key: (old, new)} (absent: None)."""
    a, b = flat(old), flat(new)
    return {k: (a.get(k), b.get(k)) for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k) and k != "run.dir"}


def meaningful(key: str) -> bool:
    return key not in HARMLESS and any(key == m or key.startswith(m + ".") for m in MEANING)


def check(run_dir: Path, new: dict[str, Any], allow: bool, record: bool = True) -> None:
    """Compare the config `new` with the run's saved ``config.yaml`` (the config of its
    latest checkpoint). Refuse (ConfigError) a change of a key the checkpoint's meaning
    depends on, unless `allow`; with `record` (rank 0), append every change to ``history.json``.
    A run without a checkpoint has nothing to protect."""
    saved = run_dir / rundir.CONFIG
    if not saved.is_file() or not any((run_dir / rundir.CHECKPOINTS).glob("*.pt")):
        return
    step = rundir.read_json(run_dir / rundir.STATUS).get("step")
    changed = changes(read_yaml(saved), new)
    refused = [k for k in changed if meaningful(k)]
    if refused and not allow:
        key = refused[0]
        before, after = changed[key]
        more = f" (and {', '.join(refused[1:])})" if refused[1:] else ""
        raise ConfigError(
            f"--resume {run_dir}: {key}={after!r}{more} changes what its checkpoint (step {step}) means "
            f"(it was trained with {key}={before!r}); to continue training with the change anyway, add "
            "--allow-changes (recorded in history.json)"
        )
    if changed and record:
        history = rundir.read_json(run_dir / rundir.HISTORY).get("resumes", [])
        history.append({
            "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "step": step,
            "allow_changes": bool(allow),
            "changed": {k: {"before": b, "after": a} for k, (b, a) in changed.items()},
        })
        rundir.write_json(run_dir / rundir.HISTORY, {"resumes": history})
