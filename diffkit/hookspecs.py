"""Hook specifications: the whole plugin API of diffkit.

A plugin is a module (or object) with functions decorated by ``diffkit.hookimpl``
whose names match the specs below. It is found through the ``diffkit`` entry-point
group, ``-p MODULE`` on the command line, or ``run.plugins`` in a config. A module
may declare ``DIFFKIT_PLUGIN_API = "1"`` (or "1.0"): the plugin-API version it was
written for; diffkit refuses it when the major version differs or the minor is newer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from omegaconf import DictConfig
    from torch import Tensor

    from diffkit.registry import Registry
    from diffkit.runner.context import RunContext

hookspec = pluggy.HookspecMarker("diffkit")
hookimpl = pluggy.HookimplMarker("diffkit")


@hookspec
def diffkit_register_components(registry: Registry) -> None:
    """Add components with ``registry.add(kind, name, cls)``.

    Called once per plugin, right after the plugins are loaded. Kinds: scheduler,
    time_embedding, denoiser, loss, sampler, dataset, metric.
    """


@hookspec
def diffkit_check_config(cfg: DictConfig, registry: Registry) -> list[str] | None:
    """Check a resolved config before anything runs (``diffkit config``, ``train``,
    each run of a sweep): raise ``ConfigError`` with one line naming the fix for a
    combination known to be broken; return one-line warnings for suspicious ones."""


@hookspec
def diffkit_run_start(run: RunContext) -> None:
    """Called on the main process when training starts or resumes, after the run
    directory and components exist and before the first step."""


@hookspec
def diffkit_log(run: RunContext, step: int, metrics: dict[str, float]) -> None:
    """Called every ``train.log_every`` steps (and at the end) with scalar metrics
    such as ``train/loss``, ``train/lr``, ``train/images_per_sec``."""


@hookspec
def diffkit_images(run: RunContext, step: int, tag: str, images: Tensor) -> None:
    """Called after sampling (tag ``samples``) and for other figures (such as
    ``forward_process``). images: (N, C, H, W) float in [0, 1], on the CPU."""


@hookspec
def diffkit_checkpoint_save(run: RunContext, state: dict[str, Any]) -> None:
    """Called before a checkpoint is written. Put this plugin's state under its own
    key of `state` (tensors, numbers, strings, lists and dicts only: checkpoints are
    loaded with ``weights_only=True``)."""


@hookspec
def diffkit_checkpoint_load(run: RunContext, state: dict[str, Any]) -> None:
    """Called on resume with the `state` dict that ``diffkit_checkpoint_save`` filled."""


@hookspec
def diffkit_eval(run: RunContext, step: int, metrics: dict[str, float]) -> None:
    """Called with sample-quality metrics (``eval/fid``, ``eval/precision``, ...) of
    the model at `step`: when training completes with ``eval.metrics`` set (before
    ``diffkit_run_end``), and by ``diffkit eval`` (with no ``diffkit_run_end`` after it,
    so a tracker writes them out before returning)."""


@hookspec
def diffkit_run_end(run: RunContext, status: str, metrics: dict[str, float]) -> None:
    """Called once when training stops. status: "completed", "interrupted" or
    "failed"; metrics: the final metrics (loss and any evaluation)."""
