"""The training loop: build -> data -> restore -> step -> log -> sample -> checkpoint.

Host-device sync points are marked ``# sync``: the loss is read back only at log
intervals and before checkpoints, never per step (except ``on_nonfinite=skip``).
"""

from __future__ import annotations

import signal
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import torch
from omegaconf import OmegaConf

from diffkit import checkpoint as ckpt
from diffkit.config import Composed, validate
from diffkit.config.checks import check, report
from diffkit.errors import ConfigError, NonFiniteError, PluginHookError
from diffkit.plugin_manager import Plugins
from diffkit.runner import rundir
from diffkit.runner.build import build_components, build_dataset
from diffkit.runner.context import RunContext, flatten
from diffkit.runner.data import Batches, fit_data
from diffkit.runner.device import autocast, resolve_device, resolve_precision, seed_everything
from diffkit.runner.distributed import DistEnv, describe, sync_batchnorm
from diffkit.runner.ema import EMA
from diffkit.runner.evaluate import Evaluator, numeric
from diffkit.runner.optim import build_lr_schedule, build_optimizer
from diffkit.runner.profile import StepProfiler
from diffkit.runner import lock
from diffkit.runner import resume as resume_changes
from diffkit.runner.progress import Progress
from diffkit.runner.sample import generate
from diffkit.runner.state import TrainingState
from diffkit.runner.stop import StopSignal
from diffkit.runner.visuals import Pictures


def train(composed: Composed, plugins: Plugins, *, resume: Path | None = None, stem: str = "run",
          allow_changes: bool = False) -> Path:
    """Train from a composed config (or continue the run at `resume`; `allow_changes`:
    let overrides change what its checkpoint means, see ``runner/resume.py``); return the run dir.

    The signal handlers are installed first (until the first step a signal stops at once)
    and the run directory is created complete (config and status) in one rename, so a
    signal at any moment leaves either no run directory or one that ``--resume`` continues.
    The process holds the run's lock (``runner/lock.py``) while it writes."""
    stop = StopSignal(starting=True)
    stop.install()
    try:
        with lock.scope():
            return _train(composed, plugins, resume, stem, allow_changes, stop)
    finally:
        stop.restore()


def _train(composed: Composed, plugins: Plugins, resume: Path | None, stem: str, allow_changes: bool,
           stop: StopSignal) -> Path:
    validate(composed)
    cfg = composed.cfg
    hook = plugins.hooks(cfg.run.on_hook_error)
    env = DistEnv.from_env()
    warnings = check(cfg, plugins)  # refuses a broken config before the data is loaded
    if resume is None and env.is_main:
        rundir.check_free(cfg.run.dir)  # before the slow part: data and model
    if resume is not None:
        if env.is_main:
            lock.acquire(resume, "diffkit train --resume")
        changed = resume_changes.check(Path(resume), OmegaConf.to_container(cfg, resolve=True), allow_changes)

    # -- build ------------------------------------------------------------
    device = resolve_device(cfg.train.device)
    precision = resolve_precision(device, cfg.train.precision)
    if device.type == "cuda" and env.enabled:
        device = torch.device("cuda", env.local_rank)
        torch.cuda.set_device(device)
    env.init(device, cfg.train.dist_timeout)
    seed_everything(cfg.seed + env.rank)
    if cfg.train.deterministic:
        torch.use_deterministic_algorithms(True)
    data = fit_data(build_dataset(plugins.registry, cfg).load("train"), cfg.data.image_size)
    pictures = Pictures(data)  # image grids, or scatter plots of points
    if cfg.train.conditional and not (data.num_classes and data.labels is not None):
        raise ConfigError(f"train.conditional=true needs labelled data; data.name={cfg.data.name!r} has no class labels")
    num_classes = data.num_classes if cfg.train.conditional else 0
    parts = build_components(plugins.registry, cfg, data.sample_shape[0], num_classes)
    scheduler, loss_fn, sampler = parts.scheduler.to(device), parts.loss.to(device), parts.sampler
    evaluator = Evaluator(plugins.registry, cfg, device) if cfg.eval.metrics and env.is_main else None
    if evaluator is not None:
        evaluator.check_num(int(cfg.eval.num_samples))
    model = parts.denoiser.to(device)
    if cfg.train.sync_batchnorm:
        model = sync_batchnorm(model, env)
    if cfg.train.channels_last:
        model = model.to(memory_format=torch.channels_last)
    optimizer = build_optimizer(cfg, model)
    lr_schedule = build_lr_schedule(cfg, optimizer)
    # EMA on rank 0 only: DDP keeps the weights equal on every rank
    ema = EMA(model, cfg.ema.decay, cfg.ema.warmup) if cfg.ema.decay > 0 and env.is_main else None
    scaler = torch.amp.GradScaler("cuda", enabled=precision == "fp16")
    forward = env.wrap(model)
    if cfg.train.compile:
        forward = torch.compile(forward)
    batches = Batches(data, cfg.data.batch_size, cfg.seed, device, env.rank, env.world_size)
    gen = torch.Generator(device=device).manual_seed(cfg.seed * 7919)  # the same on every rank: see env.shard below
    state = TrainingState(model, optimizer, lr_schedule, scaler, ema, gen)
    config_dict = OmegaConf.to_container(cfg, resolve=True)

    # -- run directory and restore -----------------------------------------
    run_dir, found = resume_changes.open_run(cfg, resume, stem, env, device)
    start, restored = 0, None
    if found is not None:
        last, restored = found
        start = int(restored["step"])
        state.load(restored, last, cfg, env)
        ema = state.ema
    if resume is not None and env.is_main:
        resume_changes.record(run_dir, start, changed, allow_changes, OmegaConf.to_yaml(cfg, resolve=True))
    if env.is_main:
        report(warnings)  # once the run starts: an error while building comes alone
        if warnings:
            rundir.write_text_atomic(run_dir / rundir.WARNINGS, "".join(f"{w}\n" for w in warnings))
    run = RunContext(
        dir=run_dir,
        config=config_dict,
        step=start,
        start_step=start,
        is_main=env.is_main,
        world_size=env.world_size,
        hparams=flatten({k: v for k, v in config_dict.items() if k != "run"}),
        info={
            "device": str(device),
            "precision": precision,
            "warnings": warnings,
            "parameters": sum(p.numel() for p in model.parameters()),
            "global_batch": cfg.data.batch_size * env.world_size * cfg.train.accumulate,
            "components": parts.records(),
        },
    )
    if restored is not None:
        hook.diffkit_checkpoint_load(run=run, state=restored.get("plugins", {}))
    finished = rundir.read_json(run_dir / rundir.STATUS).get("status") == "completed"
    if start >= cfg.train.steps and finished:  # else: killed after its last step, so finish the end phase
        if env.is_main:
            print(f"diffkit: {run_dir} already finished {start} of {cfg.train.steps} steps", file=sys.stderr)
        env.close()
        return run_dir
    if env.is_main:
        if env.enabled:
            print(describe(env, cfg.data.batch_size, cfg.train.accumulate), file=sys.stderr)
        rundir.write_json(run_dir / rundir.STATUS, {"status": "running", "step": start})
        hook.diffkit_run_start(run=run)
        if start == 0:
            strip = pictures.forward_strip(scheduler, batches(0)[0])
            hook.diffkit_images(run=run, step=0, tag="forward_process", images=strip)

    def sample_model() -> torch.nn.Module:
        return ema.model if ema is not None and cfg.ema.use_for_sampling else model

    def raise_if_nonfinite() -> None:
        bad = env.earliest(first_bad)  # sync
        if bad >= 0:
            raise NonFiniteError(
                f"loss or gradient became non-finite at step {bad}; stopped, the last good "
                f"checkpoint in {run_dir / rundir.CHECKPOINTS} is intact "
                "(lower optim.lr, set optim.grad_clip, or train.on_nonfinite=skip)"
            )

    def save(step: int) -> None:
        raise_if_nonfinite()
        window_loss = env.mean_(loss_sum.clone())  # sync: every rank resumes with the mean
        if not env.is_main:
            return
        if not all(torch.isfinite(p).all() for p in [*model.parameters(), *model.buffers()]):  # sync
            raise NonFiniteError(f"weights are not finite at step {step}; kept the last good checkpoint")
        saved: dict[str, Any] = {
            "format": ckpt.FORMAT_VERSION,
            "step": step,
            "config": config_dict,
            "components": parts.records(),
            "in_channels": int(data.sample_shape[0]),
            "sample_shape": list(data.sample_shape),
            "num_classes": num_classes,
            **state.state_dict(),
            "window": {"loss_sum": window_loss, "steps": window_steps, "skipped": skipped},
            "plugins": {},
        }
        hook.diffkit_checkpoint_save(run=run, state=saved["plugins"])
        ckpt.save_rotating(saved, run_dir / rundir.CHECKPOINTS, step, cfg.run.keep_checkpoints)
        rundir.write_json(run_dir / rundir.STATUS, {"status": "running", "step": step})
        last_saved[0] = step

    def sample(step: int) -> None:
        if not env.is_main:
            return
        shape = data.sample_shape
        images = generate(
            sample_model(), scheduler, sampler, cfg.train.num_samples, shape,  # type: ignore[arg-type]
            device=device, seed=cfg.seed, batch_size=cfg.data.batch_size,
        )
        pictures.save(images, run_dir / rundir.SAMPLES / f"step_{step:07d}.png")
        hook.diffkit_images(run=run, step=step, tag="samples", images=pictures.shown(images))

    # -- training loop -----------------------------------------------------
    stop.starting = False  # from here a signal finishes the step and saves
    progress = Progress(cfg.train.steps, start, cfg.train.progress and env.is_main)
    null_label = num_classes
    loss_sum = torch.zeros((), device=device)
    first_bad = torch.full((), -1, device=device, dtype=torch.long)
    window_start, window_steps, skipped = time.perf_counter(), 0, 0
    if restored is not None and "window" in restored:  # the log window the checkpoint cut
        loss_sum += restored["window"]["loss_sum"].to(device)
        window_steps, skipped = int(restored["window"]["steps"]), int(restored["window"]["skipped"])
    last_loss = float("nan")
    last_saved = [start]
    scores: dict[str, Any] = {}
    status = "failed"
    model.train()
    # plain attributes: an OmegaConf read costs ~20 us and the loop reads a dozen per step
    tc, grad_clip = SimpleNamespace(**OmegaConf.to_container(cfg.train, resolve=True)), cfg.optim.grad_clip
    profiler = StepProfiler(tc.profile and env.is_main, run_dir, device)
    try:
        step = start
        while step < tc.steps:
            optimizer.zero_grad(set_to_none=True)
            step_loss = torch.zeros((), device=device)
            # skip mode undoes a skipped step's forward passes too (BatchNorm statistics)
            kept = [b.detach().clone() for b in model.buffers()] if tc.on_nonfinite == "skip" else []
            for micro in range(tc.accumulate):
                x, y = batches(step * tc.accumulate + micro)
                if tc.channels_last:
                    x = x.contiguous(memory_format=torch.channels_last)
                n = x.shape[0] * env.world_size  # draw for the global batch, keep this rank's shard
                t = env.shard(scheduler.sample_t(n, gen, device))
                noise = env.shard(torch.randn((n, *x.shape[1:]), generator=gen, device=device))
                if y is not None and num_classes and tc.label_dropout > 0:
                    drop = env.shard(torch.rand((n,), generator=gen, device=device)) < tc.label_dropout
                    y = torch.where(drop, torch.full_like(y, null_label), y)
                with autocast(device, precision):
                    out = forward(*scheduler.model_input(scheduler.add_noise(x, noise, t), t), y if num_classes else None)
                loss = loss_fn(out.float(), scheduler.target(x, noise, t), t, scheduler) / tc.accumulate
                scaler.scale(loss).backward()
                step_loss += loss.detach()
            finite = torch.isfinite(step_loss)
            if grad_clip:
                scaler.unscale_(optimizer)
                norm = torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
                if not scaler.is_enabled():  # fp16: overflowing gradients are the scaler's to skip
                    finite &= torch.isfinite(norm)
            if tc.on_nonfinite == "skip" and not env.all_true(finite):  # sync (only in skip mode)
                skipped += 1
                optimizer.zero_grad(set_to_none=True)
                for buffer, saved in zip(model.buffers(), kept):
                    buffer.copy_(saved)
                scaler.update(scaler.get_scale() * scaler.get_backoff_factor() if scaler.is_enabled() else None)
            else:
                scaler.step(optimizer)
                scaler.update()
                if ema is not None:
                    ema.update(model)
                first_bad = torch.where((first_bad < 0) & ~finite, step + 1, first_bad)
            lr_schedule.step()
            loss_sum += torch.where(finite, step_loss, 0.0)
            step += 1
            run.step = step
            window_steps += 1
            profiler.step()

            # -- log --------------------------------------------------------
            # DDP: the ranks agree on a signal at log steps, so that all stop after the same step
            stopping = env.any_true(bool(stop.signum), at=step % tc.log_every == 0)
            at_end = step == tc.steps or stopping
            if step % tc.log_every == 0 or step == tc.steps:  # on a signal the checkpoint keeps the window
                raise_if_nonfinite()
                elapsed = time.perf_counter() - window_start
                last_loss = float(env.mean_(loss_sum)) / max(1, window_steps)  # sync: the mean over ranks
                metrics = {
                    "train/loss": last_loss,
                    "train/lr": optimizer.param_groups[0]["lr"],
                    "train/images_per_sec": window_steps * run.info["global_batch"] / max(elapsed, 1e-9),
                    "train/global_batch": float(run.info["global_batch"]),
                }
                if skipped:
                    metrics["train/skipped_steps"] = float(skipped)
                if env.is_main:
                    hook.diffkit_log(run=run, step=step, metrics=metrics)
                progress.update(step, f"loss {last_loss:.4f}")
                loss_sum.zero_()
                window_start, window_steps = time.perf_counter(), 0
            else:
                progress.update(step)

            # -- sample and checkpoint --------------------------------------
            if tc.sample_every and step % tc.sample_every == 0 and not at_end:
                sample(step)
            if (tc.checkpoint_every and step % tc.checkpoint_every == 0) or at_end:
                save(step)
                env.barrier()
            if stopping:
                status = "interrupted"
                break
        else:
            sample(step)
            if evaluator is not None:  # -- evaluate (eval.metrics) ------------
                scores = evaluator(sample_model(), scheduler, sampler)
                hook.diffkit_eval(run=run, step=step, metrics=numeric(scores))
            status = "completed"
    except PluginHookError as e:
        # keep the steps done since the last checkpoint; the failing plugin is switched off
        if e.hook != "diffkit_checkpoint_save" and run.step > last_saved[0] and not env.enabled:
            save(run.step)
            raise PluginHookError(f"{e}; saved step {run.step} in {run_dir}", e.plugin, e.hook) from e.__cause__
        raise
    except KeyboardInterrupt:  # a second signal: stopped without saving; the last checkpoint resumes
        status = "interrupted"
        raise
    except RuntimeError as e:
        lost = env.peer_lost(e, run.step)
        if lost is not None:
            raise lost from e
        raise
    finally:
        progress.close()
        profiler.close()
        final = {"train/loss": last_loss, "step": float(run.step)}
        if env.is_main:
            signalled = {"signal": stop.signum} if status == "interrupted" else {}
            try:
                rundir.write_json(run_dir / rundir.STATUS, {"status": status, "step": run.step, **signalled})
                if status == "completed":
                    rundir.write_json(run_dir / rundir.METRICS, {**final, **scores})
            except OSError:
                if status == "completed":
                    raise
                # a full or read-only disk: the error that stopped the run is the one to report
            hook.diffkit_run_end(run=run, status=status, metrics={**final, **numeric(scores)})
        env.close()
    if status == "interrupted" and env.is_main:
        name = signal.Signals(stop.signum).name if stop.signum else "a stop signal on another rank"
        print(
            f"diffkit: {name} received; saved step {run.step} in {run_dir}; "
            f"resume with: diffkit train --resume {run_dir}",
            file=sys.stderr,
        )
    return run_dir
