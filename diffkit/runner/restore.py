"""A trained run's model, rebuilt from a checkpoint for sampling or evaluation.

One source of truth: the run's config (``RUN/config.yaml``, with any overrides) chooses
the plugins and builds every component; the checkpoint gives only weights. Where the
checkpoint was trained under another config, a key its weights' meaning depends on
refuses the restore in one line, and any other difference is said in a note."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from diffkit import checkpoint as ckpt
from diffkit.config import to_dict
from diffkit.errors import CheckpointError, ConfigError
from diffkit.registry import Registry
from diffkit.runner import rundir
from diffkit.runner.build import Components, build_components
from diffkit.runner.resume import changes, meaningful

#: config sections that change what sampling from a checkpoint does, besides the meaning keys.
SAMPLING = ("sampler", "ema", "eval")


@dataclass
class Restored:
    """path: the checkpoint file; state: its contents; cfg: the config the components were
    built from; parts: the components, the denoiser holding the checkpoint's (EMA, where
    used) weights."""

    path: Path
    state: dict[str, Any]
    cfg: DictConfig
    parts: Components

    @property
    def step(self) -> int:
        return int(self.state["step"])


def load_checkpoint(run_dir: Path, checkpoint: Path | None = None) -> tuple[Path, dict[str, Any]]:
    """`checkpoint`, or the run's latest loadable one (read once: a run still training may
    rotate the file away right after)."""
    if checkpoint is not None:
        return Path(checkpoint), ckpt.load(Path(checkpoint))
    found = ckpt.load_latest(Path(run_dir) / rundir.CHECKPOINTS)
    if found is None:
        raise CheckpointError(f"no loadable checkpoint in {Path(run_dir) / rundir.CHECKPOINTS}")
    return found


def check_agrees(config_file: Path, config: dict[str, Any], path: Path, state: dict[str, Any]) -> None:
    """Refuse a run config that disagrees with checkpoint `path` on a key its weights'
    meaning depends on; note other differences that change sampling."""
    trained = state.get("config") or {}
    diff = changes(trained, config)
    refused = [k for k in diff if meaningful(k)]
    if refused:
        key = refused[0]
        before, after = diff[key]
        raise ConfigError(
            f"{config_file} sets {key}={after!r} but checkpoint {path.name} was trained with {key}={before!r}; "
            f"put {key} back in {config_file.name} (or pass --checkpoint with a checkpoint trained so)"
        )
    noted = [k for k in diff if k.split(".")[0] in SAMPLING]
    if noted:
        shown = ", ".join(f"{k}={diff[k][1]!r} (checkpoint: {diff[k][0]!r})" for k in noted[:3])
        print(
            f"diffkit: note: {config_file} differs from checkpoint {path.name}: {shown}; using {config_file.name}",
            file=sys.stderr,
        )


def restore(
    run_dir: Path,
    cfg: DictConfig,
    registry: Registry,
    checkpoint: Path | None = None,
    no_ema: bool = False,
    saved: dict[str, Any] | None = None,
) -> Restored:
    """Build the components of `cfg` (the run's config and the caller's overrides) and load
    the checkpoint's weights into the denoiser (its EMA weights where kept and
    ``ema.use_for_sampling``). `saved`: the run's config without the overrides (default
    `cfg`), which must agree with the checkpoint's."""
    path, state = load_checkpoint(run_dir, checkpoint)
    config = saved if saved is not None else to_dict(cfg)
    check_agrees(Path(run_dir) / rundir.CONFIG, config, path, state)
    parts = build_components(registry, cfg, int(state["in_channels"]), int(state["num_classes"]))
    use_ema = state.get("ema") and cfg.ema.get("use_for_sampling", True) and not no_ema
    try:
        parts.denoiser.load_state_dict(state["ema"]["model"] if use_ema else state["model"])
    except RuntimeError as e:
        raise ckpt.mismatch(path, e) from None
    return Restored(path, state, cfg, parts)
