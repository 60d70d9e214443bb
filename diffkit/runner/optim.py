"""Optimizer and learning-rate schedule from the ``optim`` config section."""

from __future__ import annotations

import math
from typing import Any

import torch
from omegaconf import DictConfig
from torch import nn

from diffkit.runner.budget import UNPLANNED, Plan


def param_groups(model: nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """Trainable parameters in two groups: matrices and conv kernels (ndim >= 2) get
    `weight_decay`; biases and norm gains (ndim < 2, marked ``no_decay``) get none, as in
    nanoGPT and most diffusion codebases. Empty groups are left out; the grouping does
    not depend on `weight_decay`, so a resumed run may change it."""
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [
        {"params": [p for p in params if p.ndim >= 2], "weight_decay": weight_decay},
        {"params": [p for p in params if p.ndim < 2], "weight_decay": 0.0, "no_decay": True},
    ]
    return [g for g in groups if g["params"]]


def build_optimizer(cfg: DictConfig, model: nn.Module) -> torch.optim.Optimizer:
    o = cfg.optim
    params = param_groups(model, o.weight_decay)
    fused = _can_fuse(model)
    if o.name == "adam":
        return torch.optim.Adam(params, lr=o.lr, betas=tuple(o.betas), weight_decay=o.weight_decay, fused=fused)
    if o.name == "adamw":
        return torch.optim.AdamW(params, lr=o.lr, betas=tuple(o.betas), weight_decay=o.weight_decay, fused=fused)
    return torch.optim.SGD(params, lr=o.lr, momentum=o.betas[0], weight_decay=o.weight_decay, fused=fused)


def _can_fuse(model: nn.Module) -> bool | None:
    """Use the fused update (one kernel over all parameters) where torch has one: on CPU it
    is ~4x faster than the per-parameter loop torch picks there by default, which dominates
    the step of small networks. ``None`` keeps torch's default choice elsewhere."""
    params = [p for p in model.parameters() if p.requires_grad]
    ok = params and all(p.device.type in ("cpu", "cuda") and p.is_floating_point() for p in params)
    return True if ok else None


def lr_factor(step: int, warmup_steps: int, total_steps: int, schedule: str) -> float:
    """Multiplier of the base lr at `step` (0-based): linear warm-up, then constant or
    cosine decay 0.5 (1 + cos(pi p)) with p the fraction of post-warm-up steps done."""
    if warmup_steps and step < warmup_steps:
        return (step + 1) / warmup_steps
    if schedule == "cosine":
        span = max(1, total_steps - warmup_steps)
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, (step - warmup_steps) / span)))
    return 1.0


def planned_factor(plan: Plan, step: int, schedule: str) -> float:
    """`lr_factor` at `step` of the run `plan` describes: warm-up and decay end at its total
    (a time budget not yet measured: a provisional total from the speed so far, see
    ``runner/budget.py``; before any speed is known, the start of an endless schedule)."""
    total = plan.schedule_total(step)
    return lr_factor(step, plan.warmup(total), UNPLANNED if total is None else total, schedule)


def build_lr_schedule(
    cfg: DictConfig, optimizer: torch.optim.Optimizer, plan: Plan | None = None
) -> torch.optim.lr_scheduler.LambdaLR:
    """lr_t = lr * planned_factor(t): sized to `plan` (default: ``train.steps``)."""
    plan = plan if plan is not None else Plan.from_config(cfg, 1)
    schedule = cfg.optim.lr_schedule
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: planned_factor(plan, s, schedule))


def reapply_config(
    cfg: DictConfig, optimizer: torch.optim.Optimizer, lr_schedule: torch.optim.lr_scheduler.LambdaLR
) -> None:
    """After restoring their state on resume, make the config's lr, betas and weight decay
    current again (a resumed run may change them); the schedule keeps its position."""
    o = cfg.optim
    lr_schedule.base_lrs = [o.lr] * len(optimizer.param_groups)
    for group, factor in zip(optimizer.param_groups, lr_schedule.lr_lambdas):
        decay = 0.0 if group.get("no_decay") else o.weight_decay
        group.update(initial_lr=o.lr, lr=o.lr * factor(lr_schedule.last_epoch), weight_decay=decay)
        if "betas" in group:
            group["betas"] = tuple(o.betas)
        elif "momentum" in group:
            group["momentum"] = o.betas[0]
