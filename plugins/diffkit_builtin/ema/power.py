"""Power-function EMAs with snapshots for post-hoc EMA (``ema.name=power``; Karras et al. 2024)."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from diffkit import ema_snapshots
from diffkit.errors import ConfigError
from diffkit.interfaces.ema import EMA
from diffkit.posthoc_ema import beta, sigma_rel_to_gamma

DTYPES = {"fp16": torch.float16, "bf16": torch.bfloat16, "fp32": torch.float32}


class PowerEMA(EMA):
    """One power-function EMA per entry of `sigma_rels`: after step t,
    theta_k <- beta_t theta_k + (1 - beta_t) theta, beta_t = (1 - 1/t)^(gamma_k + 1)
    (``diffkit.posthoc_ema.beta``), which averages theta_1..theta_t with the profile
    p_{t,gamma_k}(tau) ~ tau^gamma_k.

    Every `snapshot_every` steps, and at the run's last step, their weights are kept (cast to `dtype`) and written to
    ``RUN/ema_snapshots/step_N.pt`` before the next checkpoint, so pending snapshots are
    never newer than the checkpoint a resume starts from; `keep_snapshots` > 0 keeps only
    the newest. The run samples with the first average. `track`: further sigma_rels
    averaged directly (in the checkpoint, not in snapshots), e.g. to check a reconstruction.
    """

    def __init__(
        self,
        model: nn.Module,
        sigma_rels: Sequence[float] = (0.05, 0.10),
        snapshot_every: int = 100,
        keep_snapshots: int = 0,
        dtype: str = "fp16",
        track: Sequence[float] | None = None,
    ) -> None:
        if dtype not in DTYPES:
            raise ValueError(f"dtype={dtype!r} must be one of {', '.join(DTYPES)}")
        if snapshot_every < 1 or keep_snapshots < 0:
            raise ValueError(
                f"need snapshot_every >= 1 and keep_snapshots >= 0, got {snapshot_every}, {keep_snapshots}"
            )
        self.sigma_rels = [float(s) for s in sigma_rels]
        self.track = [float(s) for s in track or []]
        if not self.sigma_rels:
            raise ValueError("sigma_rels must name at least one relative width, e.g. [0.05, 0.10]")
        try:
            self.gammas = [sigma_rel_to_gamma(s) for s in self.sigma_rels + self.track]
        except ConfigError as e:
            raise ValueError(f"sigma_rels, track: {e}") from None
        self.snapshot_every, self.keep, self.dtype = snapshot_every, keep_snapshots, DTYPES[dtype]
        self.pending: list[tuple[int, list[dict[str, torch.Tensor]]]] = []
        self.reset(model)

    def reset(self, model: nn.Module) -> None:
        self.averages = [copy.deepcopy(model).eval().requires_grad_(False) for _ in self.gammas]
        self.model = self.averages[0]
        self.pending = []

    @torch.no_grad()
    def update(self, model: nn.Module, step: int) -> None:
        params = [p.detach() for p in model.parameters()]
        for average, gamma in zip(self.averages, self.gammas):
            torch._foreach_lerp_(list(average.parameters()), params, 1.0 - beta(step, gamma))
            for b_avg, b in zip(average.buffers(), model.buffers()):
                b_avg.copy_(b)
        if step % self.snapshot_every == 0:
            self.pending.append((step, [self._compact(a) for a in self.averages[: len(self.sigma_rels)]]))

    def _compact(self, average: nn.Module) -> dict[str, torch.Tensor]:
        names = {n for n, _ in average.named_parameters()}
        return {
            k: (v.to(self.dtype) if k in names and v.is_floating_point() else v).detach().cpu().clone()
            for k, v in average.state_dict().items()
        }

    def snapshot(self, run_dir: Path, step: int) -> None:
        """Write the pending snapshots (steps <= `step`) to ``run_dir/ema_snapshots``, with
        one of `step` itself when it is the run's last (``last_step``)."""
        if step == self.last_step and not (self.pending and self.pending[-1][0] == step):
            self.pending.append((step, [self._compact(a) for a in self.averages[: len(self.sigma_rels)]]))
        params = [n for n, _ in self.model.named_parameters()]
        for at, averages in self.pending:
            record = {
                "sigma_rels": self.sigma_rels,
                "gammas": self.gammas[: len(self.sigma_rels)],
                "params": params,
                "averages": averages,
            }
            ema_snapshots.save(Path(run_dir) / ema_snapshots.SNAPSHOTS, at, record, self.keep)
        self.pending = []

    def state_dict(self) -> dict[str, Any]:
        return {
            "model": self.model.state_dict(),
            "averages": [a.state_dict() for a in self.averages[1:]],
            "sigma_rels": self.sigma_rels + self.track,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if "averages" not in state:
            raise KeyError("the checkpoint's EMA state is not a power EMA's (was ema.name changed?)")
        saved = [float(s) for s in state["sigma_rels"]]
        if saved != self.sigma_rels + self.track:
            raise ValueError(f"the checkpoint tracks sigma_rels {saved}, the config {self.sigma_rels + self.track}")
        for average, weights in zip(self.averages, [state["model"], *state["averages"]]):
            average.load_state_dict(weights)
        self.pending = []
