"""Hook specifications: the whole plugin API of diffkit.

A plugin is a module (or object) with functions decorated by ``diffkit.hookimpl``
whose names match the specs below. It is found through the ``diffkit`` entry-point
group, ``-p MODULE`` on the command line, or ``run.plugins`` in a config. A module
may declare ``DIFFKIT_PLUGIN_API = "1"`` (or "1.0"): the plugin-API version it was
written for; diffkit refuses it when the major version differs or the minor is newer.

Order of the calls in ``diffkit train`` (all on the main process; `N` is a step):

1. ``diffkit_register_components``, once per plugin, when the plugins load
   (every command, not only ``train``).
2. On ``--resume``: ``diffkit_checkpoint_load`` with the state of the checkpoint
   resumed from, before ``diffkit_run_start``.
3. ``diffkit_run_start``; on a fresh run then ``diffkit_images`` (tag
   ``forward_process``, step 0).
4. After each optimizer step N, in this order: ``diffkit_log`` (when N is a
   multiple of ``train.log_every``, and at the last step), ``diffkit_images`` (tag
   ``samples``, when N is a multiple of ``train.sample_every``, not at the last
   step), ``diffkit_checkpoint_save`` (when N is a multiple of
   ``train.checkpoint_every``, and at the last step), which runs just before the
   checkpoint of step N is written. So the log at N is part of checkpoint N.
5. After the last step's checkpoint: ``diffkit_images`` (tag ``samples``),
   ``diffkit_eval`` (when ``eval.metrics`` is set), then ``diffkit_run_end``
   (``completed``). Rows a tracker writes in these hooks come after the last
   checkpoint: keep them on resume (see the CSV logger of ``diffkit-example``).

On a stop signal the step that was running finishes, is logged and checkpointed,
then ``diffkit_run_end`` (``interrupted``) is called. On an error
``diffkit_run_end`` (``failed``) is called without a new checkpoint.
``diffkit eval`` calls only ``diffkit_eval``; ``diffkit sample`` calls no
lifecycle hook.

A hook implementation may take any subset of its arguments. An exception inside
one stops the command with one line naming the plugin, its distribution, the hook
and the error (``--traceback`` or ``DIFFKIT_TRACEBACK=1`` shows the traceback);
``run.on_hook_error: {PLUGIN: warn}`` switches that plugin off with a warning
instead, so that a failing tracker does not stop training.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from omegaconf import DictConfig
    from torch import Tensor

    from diffkit.interfaces.run import RunContext
    from diffkit.registry import Registry

hookspec = pluggy.HookspecMarker("diffkit")
hookimpl = pluggy.HookimplMarker("diffkit")


@hookspec
def diffkit_register_components(registry: Registry) -> None:
    """Add components with ``registry.add(kind, name, cls)``.

    Called once per plugin, right after the plugins are loaded, by every command.
    Kinds: scheduler, time_embedding, denoiser, loss, sampler, dataset, metric,
    launcher, ema.
    ``registry.add`` checks the class at once (base class, abstract methods,
    constructor defaults and injected arguments) and raises
    ``diffkit.PluginValidationError``; the plugin is then not loaded.

    Args:
        registry: the registry of this invocation (there is no global one).
    """


@hookspec
def diffkit_check_config(cfg: DictConfig, registry: Registry) -> list[str] | None:
    """Check a resolved config before anything runs (``diffkit config``, ``train``,
    each run of a sweep): raise ``ConfigError`` with one line naming the fix for a
    combination known to be broken; return one-line warnings for suspicious ones."""


@hookspec
def diffkit_run_start(run: RunContext) -> None:
    """Training starts or resumes: the run directory and every component exist,
    no step has run yet (after ``diffkit_checkpoint_load`` on ``--resume``).

    Args:
        run: the run; ``run.step`` is 0, or the step resumed from.
    """


@hookspec
def diffkit_log(run: RunContext, step: int, metrics: dict[str, float]) -> None:
    """Scalar training metrics at step `step`.

    Called after step `step` when it is a multiple of ``train.log_every`` and after
    the last step; always before the checkpoint of the same step is written.

    Args:
        run: the run.
        step: the number of optimizer steps done.
        metrics: ``train/loss`` (mean over the steps since the last log),
            ``train/lr``, ``train/images_per_sec``, ``train/global_batch`` and,
            with ``train.on_nonfinite=skip``, ``train/skipped_steps``.
    """


@hookspec
def diffkit_images(run: RunContext, step: int, tag: str, images: Tensor) -> None:
    """Images to record: the forward-process strip (tag ``forward_process``, step 0,
    after ``diffkit_run_start`` of a fresh run) and samples (tag ``samples``) every
    ``train.sample_every`` steps (after ``diffkit_log``, before the checkpoint of
    that step) and after the last step's checkpoint.

    Args:
        run: the run.
        step: the step the images belong to.
        tag: ``samples`` or ``forward_process``.
        images: (N, C, H, W) float in [0, 1], on the CPU; for point data, rendered scatter
            plots (``diffkit/runner/visuals.py``): one (1, 3, S, S) of the samples, n panels of the strip.
    """


@hookspec
def diffkit_checkpoint_save(run: RunContext, state: dict[str, Any]) -> None:
    """A checkpoint of step ``run.step`` is about to be written: add this plugin's state.

    Called every ``train.checkpoint_every`` steps, at the last step and on a stop
    signal, after ``diffkit_log`` of the same step. Put the state under this
    plugin's own key of `state`: tensors, numbers, strings, lists and dicts only
    (checkpoints are loaded with ``weights_only=True``). diffkit records the
    version of each plugin's state: the module attribute
    ``DIFFKIT_STATE_VERSION`` (an int, default 1); raise it when the layout of
    the state changes.

    Args:
        run: the run; ``run.step`` is the step being checkpointed.
        state: the dict stored in the checkpoint under ``plugins``.
    """


@hookspec
def diffkit_checkpoint_load(run: RunContext, state: dict[str, Any], version: int | None) -> None:
    """``diffkit train --resume`` restored a checkpoint: read back this plugin's state.

    Called once, before ``diffkit_run_start``, with the `state` dict that
    ``diffkit_checkpoint_save`` filled for that checkpoint. Anything the plugin
    wrote after that checkpoint (log rows of later steps; the final samples and
    ``diffkit_eval`` of a finished run) is still on disk: drop or keep it here.

    Args:
        run: the run; ``run.step`` is the step resumed from.
        state: what the plugins saved, by key (a key may be missing).
        version: the ``DIFFKIT_STATE_VERSION`` this plugin had when it saved
            `state`; None when the checkpoint holds no version for it (older
            checkpoints): migrate from there to the current layout.
    """


@hookspec
def diffkit_eval(run: RunContext, step: int, metrics: dict[str, float]) -> None:
    """Sample-quality metrics (``eval/fid``, ``eval/precision``, ...) of the model at `step`.

    In ``diffkit train`` (with ``eval.metrics`` set): once, after the last step's
    checkpoint and final samples, before ``diffkit_run_end``. In ``diffkit eval``:
    with no ``diffkit_run_start`` or ``diffkit_run_end`` around it, so a tracker
    writes the values out before returning.

    Args:
        run: the run evaluated.
        step: the step of the checkpoint evaluated.
        metrics: numeric results by name.
    """


@hookspec
def diffkit_run_end(run: RunContext, status: str, metrics: dict[str, float]) -> None:
    """Training stopped; called once, last (also after a failure).

    Args:
        run: the run; ``run.step`` is the last step done.
        status: ``completed``, ``interrupted`` (a stop signal; the step was
            checkpointed) or ``failed`` (an error; no checkpoint was written).
        metrics: the final metrics: ``train/loss``, ``step`` and any evaluation.
    """
