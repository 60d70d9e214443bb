"""torch.distributed for the training loop, as launched by torchrun.

torchrun sets RANK, WORLD_SIZE and LOCAL_RANK (and MASTER_ADDR/PORT) in each
process; with WORLD_SIZE > 1 the runner joins a process group (nccl on CUDA, gloo
on the CPU), wraps the denoiser in DistributedDataParallel and lets rank 0 alone
write files. Every collective waits at most ``train.dist_timeout`` seconds: a rank
that dies or stalls makes the others fail with a `DistributedError`
instead of hanging.
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass
from typing import TypeVar

import torch
import torch.distributed as dist
from torch import Tensor, nn

from diffkit.errors import ConfigError, DistributedError

T = TypeVar("T")

#: fragments of the messages gloo and nccl raise when a peer is gone or silent.
_PEER_LOST = ("connection closed", "connection reset", "broken pipe", "timed out", "timeout")


@dataclass
class DistEnv:
    """This process's place in the job: rank in [0, world_size), local_rank on its node."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")  # where collectives' tensors live (set by init)

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @classmethod
    def from_env(cls) -> DistEnv:
        """Read torchrun's variables; without them, a single process (rank 0 of 1)."""
        values = {}
        for key in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
            text = os.environ.get(key, "1" if key == "WORLD_SIZE" else "0")
            try:
                values[key] = int(text)
            except ValueError:
                message = f"environment variable {key}={text!r} must be an integer (torchrun sets it)"
                raise ConfigError(message) from None
        env = cls(values["RANK"], values["WORLD_SIZE"], values["LOCAL_RANK"])
        if env.world_size < 1 or not 0 <= env.rank < env.world_size:
            raise ConfigError(f"RANK={env.rank} and WORLD_SIZE={env.world_size}: need 0 <= RANK < WORLD_SIZE")
        return env

    def init(self, device: torch.device, timeout_s: float = 600.0) -> None:
        """Join the process group (nccl on CUDA, gloo on CPU) when launched by torchrun."""
        self.device = device
        if self.enabled and not dist.is_initialized():
            backend = "nccl" if device.type == "cuda" else "gloo"
            dist.init_process_group(backend, timeout=datetime.timedelta(seconds=timeout_s))

    def barrier(self) -> None:
        if self.enabled and dist.is_initialized():
            dist.barrier()

    def close(self) -> None:
        if self.enabled and dist.is_initialized():
            dist.destroy_process_group()

    def broadcast(self, obj: T) -> T:
        """Rank 0's `obj` (picklable), returned on every rank."""
        if not self.enabled:
            return obj
        box = [obj]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def shard(self, x: Tensor) -> Tensor:
        """This rank's part of a global batch: x (world_size * B, ...) -> x[rank*B : (rank+1)*B]."""
        if not self.enabled:
            return x
        b = x.shape[0] // self.world_size
        return x.narrow(0, self.rank * b, b)

    def mean_(self, x: Tensor) -> Tensor:
        """Average `x` over the ranks, in place. A collective: call it on every rank."""
        if self.enabled:
            dist.all_reduce(x, op=dist.ReduceOp.SUM)
            x.div_(self.world_size)
        return x

    def all_true(self, flag: Tensor) -> bool:
        """True when `flag` (a bool scalar tensor) is true on every rank; a sync point."""
        if not self.enabled:
            return bool(flag)
        x = flag.to(torch.int32)  # a copy: the caller's flag stays this rank's own
        dist.all_reduce(x, op=dist.ReduceOp.MIN)
        return bool(x)

    def any_true(self, flag: bool, at: bool = True) -> bool:
        """`flag` in one process; under DDP, whether it is set on any rank, asked only
        when `at` (a collective: `at` must agree on every rank), else False."""
        if not self.enabled:
            return flag
        if not at:
            return False
        x = torch.tensor(int(flag), device=self.device)
        dist.all_reduce(x, op=dist.ReduceOp.MAX)
        return bool(x)

    def earliest(self, step: Tensor) -> int:
        """The smallest non-negative `step` (a long scalar) over the ranks, -1 when all
        are -1; a sync point."""
        if not self.enabled:
            return int(step)
        never = torch.iinfo(torch.long).max
        x = torch.where(step < 0, never, step)
        dist.all_reduce(x, op=dist.ReduceOp.MIN)
        return -1 if int(x) == never else int(x)

    def wrap(self, model: nn.Module) -> nn.Module:
        """The module to call in the training step: DDP around `model` when distributed."""
        if not self.enabled:
            return model
        ids = [self.device.index] if self.device.type == "cuda" else None
        return nn.parallel.DistributedDataParallel(model, device_ids=ids)

    def peer_lost(self, error: BaseException, step: int) -> DistributedError | None:
        """A DistributedError explaining `error` when it is a failed collective, else None."""
        if not self.enabled or not isinstance(error, RuntimeError):
            return None
        text = str(error).strip()
        if not isinstance(error, dist.DistError) and not any(s in text.lower() for s in _PEER_LOST):
            return None
        first = text.splitlines()[0] if text else type(error).__name__
        return DistributedError(
            f"rank {self.rank} of {self.world_size} lost contact with the other ranks at step {step} "
            f"(another rank died or stalled longer than train.dist_timeout; its own log says why): {first}"
        )


def sync_batchnorm(model: nn.Module, env: DistEnv) -> nn.Module:
    """Replace the BatchNorm layers of `model` with SyncBatchNorm, whose statistics are
    taken over the global batch (collectives in every layer's forward and backward). CUDA only."""
    if not env.enabled:
        return model
    if env.device.type != "cuda":
        raise ConfigError(
            "train.sync_batchnorm=true needs CUDA (torch's SyncBatchNorm does not run on the CPU); "
            "on the CPU use denoiser.norm=group, or train.sync_batchnorm=false"
        )
    return nn.SyncBatchNorm.convert_sync_batchnorm(model)


def describe(env: DistEnv, batch_size: int, accumulate: int) -> str:
    """One line on the job's layout and global batch, for rank 0 to print."""
    backend = "nccl" if env.device.type == "cuda" else "gloo"
    return (
        f"diffkit: DistributedDataParallel on {env.world_size} processes ({backend}); global batch "
        f"{batch_size * env.world_size * accumulate} = {batch_size} per rank x {env.world_size} ranks "
        f"x {accumulate} accumulation"
    )
