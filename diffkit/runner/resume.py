"""Opening a run's directory: a new one, or the one ``--resume`` continues; what
``--resume`` may change, and the record of what it changed.

A checkpoint's weights mean something only under the config that trained them: the
noise schedule and its length T, the image size, the network, what it predicts and the
data. Resuming with another value of one of these keys would quietly continue a
different model, so it is refused unless the user asks for it (``--allow-changes``,
fine-tuning); every change made at a resume is appended to ``history.json``, so that
``config.yaml`` (the latest config) and the history together describe every step.
"""

from __future__ import annotations

import inspect
import time
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf

from diffkit import checkpoint as ckpt
from diffkit.config import COMPONENT_SECTIONS, dotted, read_yaml
from diffkit.errors import CheckpointError, ConfigError
from diffkit.registry import Registry
from diffkit.runner import lock, rundir
from diffkit.runner.distributed import DistEnv

#: config sections whose keys fix what the checkpoint means, and keys inside them that do not.
MEANING = ("scheduler", "time_embedding", "denoiser", "data", "train.conditional")
HARMLESS = ("data.batch_size", "data.num_workers", "data.root")


def changes(old: dict[str, Any], new: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """Keys whose values differ between two config dicts: {key: (old, new)} (absent: None)."""
    a, b = dotted(old), dotted(new)
    return {k: (a.get(k), b.get(k)) for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k) and k != "run.dir"}


def defaults(config: dict[str, Any], registry: Registry | None) -> dict[str, Any]:
    """{"scheduler.sigma_data": 0.5, ...}: the constructor defaults of the components that
    `config` names, for the keys it leaves out (what those keys resolved to)."""
    out: dict[str, Any] = {}
    for section, kind in COMPONENT_SECTIONS.items():
        node = config.get(section)
        name = node.get("name") if isinstance(node, dict) else None
        if registry is None or not isinstance(name, str) or name not in registry.names(kind):
            continue
        for klass in registry.get(kind, name).cls.__mro__:
            try:
                params = inspect.signature(klass.__dict__["__init__"]).parameters.values()
            except (KeyError, TypeError, ValueError):
                continue
            for p in params:
                if p.default is not p.empty:
                    out.setdefault(f"{section}.{p.name}", p.default)
    return out


def effective(key: str, config: dict[str, Any], registry: Registry | None) -> Any:
    """`key`'s value in `config`, or the default it resolves to when left out."""
    values = dotted(config)
    return values[key] if key in values else defaults(config, registry).get(key)


def same_meaning(key: str, old: dict[str, Any], new: dict[str, Any], registry: Registry | None) -> bool:
    """Whether `key` means the same in both configs once a left-out key reads as its default."""
    before, after = effective(key, old, registry), effective(key, new, registry)
    return before == after and isinstance(before, bool) == isinstance(after, bool)


def meaningful(key: str) -> bool:
    return key not in HARMLESS and any(key == m or key.startswith(m + ".") for m in MEANING)


def check(
    run_dir: Path, new: dict[str, Any], allow: bool, registry: Registry | None = None
) -> dict[str, tuple[Any, Any]]:
    """Compare the config `new` with the run's saved ``config.yaml`` (the config of its
    latest checkpoint) and return the changes. Refuse (ConfigError) a change of a key the
    checkpoint's meaning depends on, unless `allow`. A key set to the value it was trained
    with, or to the default it resolved to (with `registry`), is no change. A run without
    a checkpoint has nothing to protect."""
    saved = run_dir / rundir.CONFIG
    if not saved.is_file() or not any((run_dir / rundir.CHECKPOINTS).glob("*.pt")):
        return {}
    step = rundir.read_json(run_dir / rundir.STATUS).get("step")
    old = read_yaml(saved)
    changed = {k: v for k, v in changes(old, new).items() if not same_meaning(k, old, new, registry)}
    refused = [k for k in changed if meaningful(k)]
    if refused and not allow:
        key = refused[0]
        before, after = effective(key, old, registry), changed[key][1]
        more = f" (and {', '.join(refused[1:])})" if refused[1:] else ""
        raise ConfigError(
            f"--resume {run_dir}: {key}={after!r}{more} changes what its checkpoint (step {step}) means "
            f"(it was trained with {key}={before!r}); to continue training with the change anyway, add "
            "--allow-changes (recorded in history.json)"
        )
    return changed


def record(run_dir: Path, step: int, changed: dict[str, tuple[Any, Any]], allow: bool, config_yaml: str) -> None:
    """Once the checkpoint is restored: append the `changed` keys to ``history.json``,
    then write the new ``config.yaml``."""
    if changed:
        history = rundir.read_json(run_dir / rundir.HISTORY).get("resumes", [])
        history.append(
            {
                "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
                "step": step,
                "allow_changes": bool(allow),
                "changed": {k: {"before": b, "after": a} for k, (b, a) in changed.items()},
            }
        )
        rundir.write_json(run_dir / rundir.HISTORY, {"resumes": history})
    rundir.write_text_atomic(run_dir / rundir.CONFIG, config_yaml)


def open_run(
    cfg: DictConfig, resume: Path | None, stem: str, env: DistEnv, device: torch.device
) -> tuple[Path, tuple[Path, dict[str, Any]] | None]:
    """The run directory and its latest checkpoint (path, state), None when there is none.

    A new directory is created complete (config.yaml and status.json) in one rename and
    locked by rank 0. A resumed run without any checkpoint (stopped during start-up)
    starts again in place."""
    found = None
    if resume is not None:
        run_dir = Path(resume)
        found = ckpt.load_latest(run_dir / rundir.CHECKPOINTS, map_location=device)
        if found is None and any((run_dir / rundir.CHECKPOINTS).glob("*.pt")):
            raise CheckpointError(f"no loadable checkpoint in {run_dir / rundir.CHECKPOINTS} to resume from")
    elif env.is_main:
        created = '{"status": "created", "step": 0}\n'
        config_yaml = OmegaConf.to_yaml(cfg, resolve=True)
        run_dir = rundir.create(cfg.run.dir, stem, {rundir.CONFIG: config_yaml, rundir.STATUS: created})
        lock.acquire(run_dir, "diffkit train")
    else:
        run_dir = Path(cfg.run.dir or ".")
    return env.broadcast(run_dir), found
