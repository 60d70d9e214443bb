"""A trained run's model, rebuilt from a checkpoint for sampling or evaluation."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from diffkit import checkpoint as ckpt
from diffkit.config import compose
from diffkit.errors import CheckpointError
from diffkit.plugin_manager import Plugins
from diffkit.runner import rundir
from diffkit.runner.build import Components, build_components


@dataclass
class Restored:
    """cfg: the checkpoint's config with `overrides` applied; parts: the components,
    the denoiser holding the checkpoint's (EMA, where used) weights; state: the checkpoint."""

    path: Path
    state: dict[str, Any]
    cfg: DictConfig
    parts: Components


def restore(run_dir: Path, plugins: Plugins, overrides: list[str], checkpoint: Path | None = None,
            no_ema: bool = False) -> Restored:
    """Load `checkpoint` (default: the run's latest loadable one) and rebuild its model."""
    if checkpoint:
        path, state = Path(checkpoint), ckpt.load(Path(checkpoint))
    else:  # loaded once: a run still training may rotate the file away right after
        found = ckpt.load_latest(Path(run_dir) / rundir.CHECKPOINTS)
        if found is None:
            raise CheckpointError(f"no loadable checkpoint in {Path(run_dir) / rundir.CHECKPOINTS}")
        path, state = found
    cfg = compose(None, overrides, plugins.registry, base=state["config"]).cfg
    parts = build_components(plugins.registry, cfg, state["in_channels"], state["num_classes"])
    use_ema = state.get("ema") and cfg.ema.get("use_for_sampling", True) and not no_ema
    try:
        parts.denoiser.load_state_dict(state["ema"]["model"] if use_ema else state["model"])
    except RuntimeError as e:
        raise ckpt.mismatch(path, e) from None
    return Restored(path, state, cfg, parts)
