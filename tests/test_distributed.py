"""Multi-process training with torchrun (gloo on the CPU, 2 processes): one set of
files, equality with a single process on the global batch, resume, and a dying rank."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from diffkit import checkpoint as ckpt
from diffkit.errors import ConfigError, DistributedError
from diffkit.interfaces import ImageData
from diffkit.runner.data import Batches
from diffkit.runner.distributed import DistEnv, sync_batchnorm
from tests.conftest import TINY, cli_env, run_cli

#: TINY with GroupNorm (batch-independent, so 2 x B per rank is exactly one 2B batch).
DDP = [*TINY, "denoiser.norm=group", "data.batch_size=8", "train.steps=4", "train.checkpoint_every=2"]
GLOBAL = "data.batch_size=16"

#: a -p plugin: a loss whose rank-1 copy kills its own process (SIGKILL) on its third call.
DYING_PLUGIN = """
import os, signal
from diffkit import hookimpl
from diffkit.interfaces import Loss

class DieOnRank1(Loss):
    def __init__(self, at_call: int = 3) -> None:
        super().__init__()
        self.at_call, self.calls = at_call, 0

    def forward(self, output, target, t, scheduler):
        self.calls += 1
        if os.environ.get("RANK") == "1" and self.calls == self.at_call:
            os.kill(os.getpid(), signal.SIGKILL)
        return (output - target).abs().mean()

@hookimpl
def diffkit_register_components(registry):
    registry.add("loss", "die_on_rank1", DieOnRank1)
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def torchrun_cmd(*args: str, nproc: int = 2, port: int | None = None, launcher: tuple[str, ...] = ()) -> list[str]:
    return [
        sys.executable,
        "-m",
        "torch.distributed.run",
        f"--nproc_per_node={nproc}",
        f"--master_port={port or free_port()}",
        *launcher,
        "-m",
        "diffkit",
        *args,
    ]


def torchrun(*args: str, cwd: Path, timeout: float = 240) -> subprocess.CompletedProcess:
    proc = subprocess.run(torchrun_cmd(*args), cwd=cwd, env=cli_env(), capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    return proc


def weights(run_dir: Path, name: str = "last.pt") -> dict[str, torch.Tensor]:
    return ckpt.load(run_dir / "checkpoints" / name)["model"]


def assert_same_weights(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor], atol: float) -> None:
    assert a.keys() == b.keys()
    worst = max((a[k].float() - b[k].float()).abs().max().item() for k in a)
    assert worst <= atol, f"largest weight difference {worst:.3g} > {atol:g}"


def scalars(run_dir: Path, tag: str) -> dict[int, float]:
    acc = EventAccumulator(str(run_dir), size_guidance={"scalars": 0})
    acc.Reload()
    return {e.step: e.value for e in acc.Scalars(tag)}


# -- units ---------------------------------------------------------------------


def test_rank_shards_of_batches_partition_the_global_batch():
    data = ImageData(torch.arange(10, dtype=torch.uint8).view(10, 1, 1, 1), None, 0)
    whole = Batches(data, 6, seed=3, device=torch.device("cpu"))
    shards = [Batches(data, 3, seed=3, device=torch.device("cpu"), rank=r, world_size=2) for r in (0, 1)]
    for step in range(7):  # crosses several epoch boundaries (10 images, 6 per step)
        assert torch.equal(torch.cat([s.indices(step) for s in shards]), whole.indices(step))
    epoch = torch.cat([whole.indices(s) for s in range(5)])[:30].view(3, 10)
    assert all(sorted(e.tolist()) == list(range(10)) for e in epoch)  # each epoch is a permutation
    assert not torch.equal(epoch[0], epoch[1])  # reshuffled per epoch


def test_env_reads_torchrun_variables(monkeypatch):
    monkeypatch.setenv("RANK", "3")
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("LOCAL_RANK", "1")
    env = DistEnv.from_env()
    assert (env.rank, env.world_size, env.local_rank, env.enabled, env.is_main) == (3, 4, 1, True, False)
    assert torch.equal(env.shard(torch.arange(8)), torch.tensor([6, 7]))
    monkeypatch.setenv("RANK", "4")
    with pytest.raises(ConfigError, match="RANK=4"):
        DistEnv.from_env()
    monkeypatch.setenv("RANK", "x")
    with pytest.raises(ConfigError, match="RANK='x'"):
        DistEnv.from_env()


def test_single_process_env_is_a_no_op():
    env = DistEnv()
    x = torch.tensor(2.5)
    assert env.mean_(x) is x and float(x) == 2.5
    assert env.earliest(torch.tensor(-1)) == -1 and env.all_true(torch.tensor(True))
    model = torch.nn.BatchNorm2d(2)
    assert env.wrap(model) is model
    assert sync_batchnorm(model, env) is model


def test_sync_batchnorm_on_cpu_is_a_config_error():
    with pytest.raises(ConfigError, match="train.sync_batchnorm=true needs CUDA.*denoiser.norm=group"):
        sync_batchnorm(torch.nn.BatchNorm2d(2), DistEnv(0, 2, 0, torch.device("cpu")))


def test_only_failed_collectives_become_distributed_errors():
    env = DistEnv(0, 2, 0)
    lost = env.peer_lost(RuntimeError("[pair.cc:561] Connection closed by peer [127.0.0.1]:1"), step=7)
    assert isinstance(lost, DistributedError) and "rank 0 of 2" in str(lost) and "step 7" in str(lost)
    assert env.peer_lost(RuntimeError("mat1 and mat2 shapes cannot be multiplied"), step=7) is None
    assert DistEnv().peer_lost(RuntimeError("Connection closed by peer"), step=7) is None


# -- end to end with torchrun ------------------------------------------------------


@dataclass
class Runs:
    ddp: Path  # 2 ranks x B = 8: 4 steps, then resumed to 6
    single: Path  # 1 process x 2B = 16: 6 steps
    first: subprocess.CompletedProcess  # the 2-rank run before its resume
    files_before_resume: list[str]


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Runs:
    """Every step checkpointed (SGD: its first momentum buffer is the first gradient)."""
    root = tmp_path_factory.mktemp("ddp")
    common = [
        *DDP,
        "optim.name=sgd",
        "optim.lr=0.1",
        "ema.decay=0.9",
        "train.checkpoint_every=1",
        "run.keep_checkpoints=10",
    ]
    ddp, single = root / "ddp", root / "single"
    first = torchrun("train", *common, f"run.dir={ddp}", cwd=root)
    files = sorted(str(p.relative_to(ddp)) for p in ddp.rglob("*") if p.is_file())
    torchrun("train", "--resume", str(ddp), "train.steps=6", cwd=root)
    run_cli("train", *common, GLOBAL, "train.steps=6", f"run.dir={single}", cwd=root)
    return Runs(ddp, single, first, files)


@pytest.mark.slow
def test_two_processes_write_one_set_of_logs_and_checkpoints(runs: Runs, tmp_path: Path):
    assert runs.first.stdout.splitlines() == [str(runs.ddp)]  # printed by rank 0 only
    assert "global batch 16 = 8 per rank x 2 ranks x 1 accumulation" in runs.first.stderr
    assert len([f for f in runs.files_before_resume if f.startswith("events.out.tfevents.")]) == 1
    assert sum("tfevents" in f for f in runs.files_before_resume) == 1
    steps = [f"checkpoints/step_000000{i}.pt" for i in (1, 2, 3, 4)]
    expected = {*steps, "checkpoints/last.pt", "status.json", "metrics.json", "config.yaml"}
    assert expected <= set(runs.files_before_resume)
    temporaries = [f for f in runs.files_before_resume if f.startswith(("checkpoints/.", ".")) and f != ".lock"]
    assert not temporaries  # none left; .lock is the run's lock, written by rank 0 alone
    assert (runs.ddp / ".lock").read_text() == ""  # released
    assert '"status": "completed"' in (runs.ddp / "status.json").read_text()
    recorded = json.loads((runs.ddp / "provenance.json").read_text())  # no scalar card: it is constant
    assert recorded["world_size"] == 2 and recorded["batch"] == {"per_device": 8, "accumulate": 1, "effective": 16}

    out = tmp_path / "grid.png"
    assert run_cli("sample", str(runs.ddp), "--num", "4", "--out", str(out)).stdout.strip() == str(out)
    assert out.stat().st_size > 0


@pytest.mark.slow
def test_one_ddp_step_equals_one_step_on_the_global_batch(runs: Runs):
    """2 ranks x B and 1 process x 2B take the same first step, gradients included:
    a DDP sum instead of a mean, or ranks not synchronised, would show."""
    first = [ckpt.load(run / "checkpoints" / "step_0000001.pt") for run in (runs.ddp, runs.single)]
    assert_same_weights(first[0]["model"], first[1]["model"], atol=1e-5)
    grads = [[s["momentum_buffer"] for _, s in sorted(f["optimizer"]["state"].items())] for f in first]
    scale = max(g.abs().max().item() for g in grads[1])
    assert scale > 1e-3 and len(grads[0]) == len(grads[1]) > 0
    for g_ddp, g_single in zip(*grads):
        assert torch.allclose(g_ddp, g_single, rtol=0, atol=1e-5 * scale)


@pytest.mark.slow
def test_resumed_ddp_run_matches_one_process_weights_ema_and_losses(runs: Runs):
    assert ckpt.load(runs.ddp / "checkpoints" / "last.pt")["step"] == 6
    assert_same_weights(weights(runs.ddp), weights(runs.single), atol=1e-4)
    ema = [ckpt.load(run / "checkpoints" / "last.pt")["ema"]["model"] for run in (runs.ddp, runs.single)]
    assert_same_weights(*ema, atol=1e-4)
    ddp_loss, single_loss = scalars(runs.ddp, "train/loss"), scalars(runs.single, "train/loss")
    assert sorted(ddp_loss) == sorted(single_loss) == [2, 4, 6]  # the mean over both ranks, logged once
    for step, value in single_loss.items():
        assert ddp_loss[step] == pytest.approx(value, rel=1e-4)


@pytest.mark.slow
def test_a_dying_rank_makes_the_others_exit_with_a_clear_error(tmp_path: Path):
    """Two torchrun agents (two 'nodes' of one process each): node 1's rank is
    SIGKILLed; node 0's agent cannot see that, so its rank must notice and stop."""
    (tmp_path / "die_rank1.py").write_text(DYING_PLUGIN)
    env = cli_env(PYTHONPATH=str(tmp_path))
    args = [
        "train",
        "-p",
        "die_rank1",
        *DDP,
        "train.steps=50",
        "loss.name=die_on_rank1",
        "train.dist_timeout=600",
        f"run.dir={tmp_path / 'run'}",
    ]
    port = free_port()
    procs = [
        subprocess.Popen(
            torchrun_cmd(
                *args, nproc=1, port=port, launcher=("--nnodes=2", f"--node_rank={node}", "--master_addr=127.0.0.1")
            ),
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for node in (0, 1)
    ]
    try:
        _, err1 = procs[1].communicate(timeout=180)
        died = time.monotonic()
        _, err0 = procs[0].communicate(timeout=60)  # far below train.dist_timeout: detected, not timed out
        survivor_exited_after = time.monotonic() - died
    finally:
        for p in procs:
            p.kill()
    assert procs[1].returncode != 0 and "SIGKILL" in err1
    assert procs[0].returncode != 0, f"rank 0 exited {procs[0].returncode} {survivor_exited_after:.0f} s later"
    assert "diffkit: error: rank 0 of 2 lost contact with the other ranks at step" in err0
    assert '"status": "failed"' in (tmp_path / "run" / "status.json").read_text()


@pytest.mark.slow
def test_a_time_budget_is_planned_once_for_all_ranks(tmp_path: Path):
    """Under DDP each rank times its own steps; rank 0's plan is broadcast, so both stop after
    the same step (a disagreement would leave one rank waiting in a collective until the timeout)."""
    import json

    run = tmp_path / "run"
    args = [a for a in DDP if not a.startswith(("train.steps=", "train.checkpoint_every="))]
    torchrun("train", *args, "train.budget=3s", "train.checkpoint_every=0", f"run.dir={run}", cwd=tmp_path)
    status = json.loads((run / "status.json").read_text())
    assert status["status"] == "completed" and status["step"] == status["plan"]["planned_steps"] > 10
    assert status["plan"]["images"] == 16 * status["step"]  # the global batch: 2 ranks x 8
