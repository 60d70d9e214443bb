"""What a checkpoint must capture for an exact resume, and putting it back."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig
from torch import nn

from diffkit import checkpoint as ckpt
from diffkit.interfaces.ema import EMA
from diffkit.runner.device import seed_everything
from diffkit.runner.distributed import DistEnv
from diffkit.runner.optim import reapply_config


@dataclass
class TrainingState:
    """Weights, optimizer, LR schedule, gradient scaler, EMA and the random streams.

    `gen` draws timesteps, noise and label dropout; the global torch RNG drives the
    rest (e.g. dropout). Together with the step (which fixes the data order) they make
    a resumed run equal to an uninterrupted one.
    """

    model: nn.Module
    optimizer: torch.optim.Optimizer
    lr_schedule: torch.optim.lr_scheduler.LambdaLR
    scaler: torch.amp.GradScaler
    ema: EMA | None
    gen: torch.Generator

    def state_dict(self) -> dict[str, Any]:
        return {
            "model": self.model.state_dict(),
            "ema": self.ema.state_dict() if self.ema is not None else None,
            "optimizer": self.optimizer.state_dict(),
            "lr_schedule": self.lr_schedule.state_dict(),
            "scaler": self.scaler.state_dict(),
            "rng": {"torch": torch.get_rng_state(), "train": self.gen.get_state()},
        }

    def load(self, restored: dict[str, Any], path: Path, cfg: DictConfig, env: DistEnv) -> None:
        """Put `restored` (read from `path`) back; the config's optimizer values win
        (so ``--resume RUN optim.lr=...`` takes effect)."""
        try:
            self.model.load_state_dict(restored["model"])
            self.optimizer.load_state_dict(restored["optimizer"])
            self.lr_schedule.load_state_dict(restored["lr_schedule"])
            self.scaler.load_state_dict(restored["scaler"])
            reapply_config(cfg, self.optimizer, self.lr_schedule)
            if self.ema is not None and restored.get("ema"):
                self.ema.load_state_dict(restored["ema"])
        except (RuntimeError, KeyError, ValueError) as e:
            raise ckpt.mismatch(path, e) from None
        if self.ema is not None and not restored.get("ema"):  # EMA switched on at resume: start from the weights
            self.ema.reset(self.model)
        if env.is_main:
            torch.set_rng_state(restored["rng"]["torch"].cpu())
        else:
            seed_everything(cfg.seed + env.rank + 1_000_003 * int(restored["step"]))
        self.gen.set_state(restored["rng"]["train"].cpu())
