"""Setting a training run up: everything the loop needs, built once, as one plain record.

``setup`` runs the pre-flight checks, builds the components, opens (or reopens) the run
directory and restores the checkpoint; it returns a `Training` that the phases of
``runner/phases.py`` read and update. Nothing here trains.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf

from diffkit.config import Composed, to_dict, validate
from diffkit.errors import ConfigError
from diffkit.hook_calls import Hooks
from diffkit.interfaces.dataset import ImageData, PointData
from diffkit.interfaces.ema import EMA
from diffkit.interfaces.run import RunContext
from diffkit.plugin_manager import Plugins
from diffkit.runner import lock, rundir
from diffkit.runner import resume as resume_changes
from diffkit.runner.budget import Plan
from diffkit.runner.build import Components, build_components, build_dataset
from diffkit.runner.checks import check, report
from diffkit.runner.data import Batches, fit_data
from diffkit.runner.device import resolve_device, resolve_precision, seed_everything
from diffkit.runner.distributed import DistEnv, sync_batchnorm
from diffkit.runner.ema import build_ema, use_for_sampling
from diffkit.runner.evaluate import Evaluator
from diffkit.runner.hparams import run_hparams
from diffkit.runner.optim import build_lr_schedule, build_optimizer
from diffkit.runner.pairing import StepNoise
from diffkit.runner.state import TrainingState
from diffkit.runner.stop import StopSignal
from diffkit.runner.visuals import Pictures
from diffkit.runner.window import LossWindow


@dataclass
class Training:
    """What the training loop needs, built by `setup`.

    tc: ``cfg.train`` as plain attributes (an OmegaConf read costs ~20 us and the loop
    reads a dozen per step); model: the raw network; forward: what the step calls (DDP
    and ``torch.compile`` wrappers); state: what a checkpoint captures; run: what hooks
    see (``run.step`` is the optimizer step just completed); window: the log window;
    restored: the checkpoint resumed from (None on a fresh run)."""

    cfg: DictConfig
    tc: SimpleNamespace
    env: DistEnv
    device: torch.device
    precision: str
    data: ImageData | PointData
    num_classes: int
    parts: Components
    model: torch.nn.Module
    forward: Any
    state: TrainingState
    batches: Batches
    evaluator: Evaluator | None
    pictures: Pictures
    run: RunContext
    hook: Hooks
    plugins: Plugins
    noise: StepNoise
    stop: StopSignal
    window: LossWindow
    plan: Plan  # how many steps: train.steps, or train.budget turned into steps (runner/budget.py)
    restored: dict[str, Any] | None = None
    last_saved: int = 0
    last_loss: float = float("nan")
    scores: dict[str, Any] = field(default_factory=dict)

    @property
    def dir(self) -> Path:
        return self.run.dir

    @property
    def ema(self) -> EMA | None:
        return self.state.ema

    def sample_model(self) -> torch.nn.Module:
        """The weights samples and metrics use: the EMA's where it is kept and used."""
        ema = self.state.ema
        return ema.model if ema is not None and use_for_sampling(self.cfg) else self.model


def setup(
    composed: Composed, plugins: Plugins, resume: Path | None, stem: str, allow_changes: bool, stop: StopSignal
) -> Training:
    """Check, build, open the run directory and restore: the record the loop runs on."""
    validate(composed)
    cfg = composed.cfg
    hook = plugins.hooks(cfg.run.on_hook_error)
    env = DistEnv.from_env()
    warnings = check(cfg, plugins)  # refuses a broken config before the data is loaded
    if resume is None and env.is_main:
        rundir.check_free(cfg.run.dir)  # before the slow part: data and model
    changed: dict[str, Any] = {}
    if resume is not None:
        if env.is_main:
            lock.acquire(resume, "diffkit train --resume")
        changed = resume_changes.check(Path(resume), to_dict(cfg), allow_changes, plugins.registry)
    device, precision = _device(cfg, env)
    t = _build(cfg, plugins, env, device, precision, hook, stop)
    run_dir, found = resume_changes.open_run(cfg, resume, stem, env, device)
    t.run.dir = run_dir
    if found is not None:
        path, t.restored = found
        t.plan.load_state_dict(t.restored.get("budget") or {})  # before the lr schedule reads it
        t.state.load(t.restored, path, cfg, env)
        t.plan.size_ema(t.ema)
        t.run.step = t.run.start_step = t.last_saved = int(t.restored["step"])
        t.window.load(t.restored.get("window"))
        hook.diffkit_checkpoint_load(run=t.run, state=t.restored.get("plugins", {}))
    if resume is not None and env.is_main:
        resume_changes.record(run_dir, t.run.step, changed, allow_changes, OmegaConf.to_yaml(cfg, resolve=True))
    t.run.info["warnings"] = warnings
    if env.is_main:
        report(warnings)  # once the run starts: an error while building comes alone
        if warnings:
            rundir.write_text_atomic(run_dir / rundir.WARNINGS, "".join(f"{w}\n" for w in warnings))
    return t


def _synchronizer(device: torch.device) -> Callable[[], None]:
    """A call that waits for `device`'s queued kernels (nothing to wait for on the CPU)."""
    if device.type == "cuda":
        return lambda: torch.cuda.synchronize(device)
    return lambda: None


def _device(cfg: DictConfig, env: DistEnv) -> tuple[torch.device, str]:
    device = resolve_device(cfg.train.device)
    precision = resolve_precision(device, cfg.train.precision)
    if device.type == "cuda" and env.enabled:
        device = torch.device("cuda", env.local_rank)
        torch.cuda.set_device(device)
    env.init(device, cfg.train.dist_timeout)
    return device, precision


def _build(
    cfg: DictConfig, plugins: Plugins, env: DistEnv, device: torch.device, precision: str, hook: Hooks, stop: StopSignal
) -> Training:
    """Data, components, optimiser state and the hooks' view of the run (its dir comes later)."""
    seed_everything(cfg.seed + env.rank)
    if cfg.train.deterministic:
        torch.use_deterministic_algorithms(True)
    data, num_classes = _data(cfg, plugins)
    parts = build_components(plugins.registry, cfg, data.sample_shape[0], num_classes, seed=cfg.seed + env.rank)
    parts.scheduler.to(device)
    parts.loss.to(device)
    evaluator = Evaluator(plugins.registry, cfg, device) if cfg.eval.metrics and env.is_main else None
    if evaluator is not None:
        evaluator.check_num(int(cfg.eval.num_samples))
    model = _model(parts.denoiser.to(device), cfg, env)
    optimizer = build_optimizer(cfg, model)
    global_batch = cfg.data.batch_size * env.world_size * cfg.train.accumulate
    plan = Plan.from_config(cfg, global_batch, agree=env.broadcast, sync=_synchronizer(device))
    ema = build_ema(plugins.registry, cfg, model) if env.is_main else None  # rank 0: DDP keeps weights equal
    plan.size_ema(ema)
    scaler = torch.amp.GradScaler("cuda", enabled=precision == "fp16")
    gen = torch.Generator(device=device).manual_seed(cfg.seed * 7919)  # the same on every rank: see env.shard
    state = TrainingState(model, optimizer, build_lr_schedule(cfg, optimizer, plan), scaler, ema, gen)
    forward: Any = env.wrap(model)
    if cfg.train.compile:
        forward = torch.compile(forward)
    run = _context(
        cfg,
        env,
        parts,
        model,
        {
            "device": str(device),
            "precision": precision,
            "global_batch": global_batch,
            "metric_info": evaluator.declared if evaluator is not None else {},
        },
    )
    return Training(
        cfg=cfg,
        tc=SimpleNamespace(**to_dict(cfg.train)),
        env=env,
        device=device,
        precision=precision,
        data=data,
        num_classes=num_classes,
        parts=parts,
        model=model,
        forward=forward,
        state=state,
        batches=Batches(data, cfg.data.batch_size, cfg.seed, device, env.rank, env.world_size),
        evaluator=evaluator,
        pictures=Pictures(data),
        run=run,
        hook=hook,
        plugins=plugins,
        noise=StepNoise(cfg.seed, device),
        stop=stop,
        window=LossWindow(device),
        plan=plan,
    )


def _data(cfg: DictConfig, plugins: Plugins) -> tuple[ImageData | PointData, int]:
    """The training split at the configured size, and the class count the model conditions on."""
    data = fit_data(build_dataset(plugins.registry, cfg).load("train"), cfg.data.image_size)
    if cfg.train.conditional and not (data.num_classes and data.labels is not None):
        raise ConfigError(
            f"train.conditional=true needs labelled data; data.name={cfg.data.name!r} has no class labels"
        )
    return data, data.num_classes if cfg.train.conditional else 0


def _context(
    cfg: DictConfig, env: DistEnv, parts: Components, model: torch.nn.Module, info: dict[str, Any]
) -> RunContext:
    """What hooks see of the run (its directory is set once it exists)."""
    config = to_dict(cfg)
    return RunContext(
        dir=Path("."),
        config=config,
        is_main=env.is_main,
        world_size=env.world_size,
        hparams=run_hparams(config, parts.records()),
        info={**info, "parameters": sum(p.numel() for p in model.parameters()), "components": parts.records()},
    )


def _model(model: torch.nn.Module, cfg: DictConfig, env: DistEnv) -> torch.nn.Module:
    if cfg.train.sync_batchnorm:
        model = sync_batchnorm(model, env)
    if cfg.train.channels_last:
        model = model.to(memory_format=torch.channels_last)
    return model
