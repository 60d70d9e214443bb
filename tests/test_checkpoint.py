"""Checkpoint files: atomic writes, rotation, integrity checks and refusing code."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from diffkit import checkpoint as ckpt
from diffkit.errors import CheckpointError, UnsafeCheckpointError


def _state(step: int, size: int = 100) -> dict:
    g = torch.Generator().manual_seed(step)
    return {
        "format": ckpt.FORMAT_VERSION,
        "step": step,
        "config": {"seed": 0},
        "model": {"w": torch.randn(size, generator=g)},
        "in_channels": 1,
        "num_classes": 0,
    }


class Payload:
    """Unpickling this calls ``Path(marker).touch()``: what a crafted checkpoint would do."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):  # noqa: ANN204
        return (Path.touch, (self.marker,))


def malicious_checkpoint(path: Path, marker: Path) -> Path:
    """A file shaped like a diffkit checkpoint whose unpickling would create `marker`."""
    state = _state(1)
    state["model"] = {"w": torch.zeros(2), "payload": Payload(marker)}
    torch.save(state, path)
    return path


def test_round_trip_keeps_tensors_exactly(tmp_path: Path) -> None:
    state = _state(3)
    ckpt.save_atomic(state, tmp_path / "a.pt")
    loaded = ckpt.load(tmp_path / "a.pt")
    assert torch.equal(loaded["model"]["w"], state["model"]["w"])
    assert loaded["step"] == 3
    assert [p.name for p in tmp_path.iterdir()] == ["a.pt"]  # no temporary file left


def test_rotation_keeps_the_newest_k_and_last(tmp_path: Path) -> None:
    for step in range(1, 6):
        ckpt.save_rotating(_state(step), tmp_path, step, keep=2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.pt", "step_0000004.pt", "step_0000005.pt"]
    assert os.path.samefile(tmp_path / "last.pt", tmp_path / "step_0000005.pt")
    assert ckpt.latest(tmp_path) == tmp_path / "step_0000005.pt"
    assert ckpt.load(tmp_path / "last.pt")["step"] == 5


def test_rotation_removes_temporary_files_of_a_killed_writer(tmp_path: Path) -> None:
    stale = tmp_path / ".step_0000002.pt.abc123.tmp"
    stale.write_bytes(b"half a checkpoint")
    ckpt.save_rotating(_state(3), tmp_path, 3, keep=2)
    assert not stale.exists()


def _good_bytes() -> bytes:
    import io

    buffer = io.BytesIO()
    torch.save(_state(1, size=1000), buffer)
    return buffer.getvalue()


def _flip_tensor_byte(data: bytes) -> bytes:
    """Flip one byte inside the stored tensor: torch.load alone would return wrong weights."""
    offset = data.index(_state(1, size=1000)["model"]["w"].numpy().tobytes()[:16]) + 8
    return data[:offset] + bytes([data[offset] ^ 0xFF]) + data[offset + 1 :]


@pytest.mark.parametrize(
    "damage, expected",
    [
        (lambda b: b[: len(b) // 2], "truncated or corrupt"),
        (lambda b: b"", "truncated or corrupt"),
        (lambda b: random.Random(0).randbytes(len(b)), "truncated or corrupt"),
        (_flip_tensor_byte, "fails the CRC check"),
    ],
    ids=["truncated", "empty", "random", "bit-flip"],
)
def test_damaged_file_gives_one_line_naming_it(tmp_path: Path, damage, expected: str) -> None:
    path = tmp_path / "step_0000001.pt"
    path.write_bytes(damage(_good_bytes()))
    with pytest.raises(CheckpointError) as info:
        ckpt.load(path)
    message = str(info.value)
    assert str(path) in message and expected in message
    assert "\n" not in message


def test_missing_keys_and_foreign_files_are_named(tmp_path: Path) -> None:
    state = _state(1)
    del state["model"]
    torch.save(state, tmp_path / "partial.pt")
    with pytest.raises(CheckpointError, match="partial.pt is not a complete diffkit checkpoint: it lacks model"):
        ckpt.load(tmp_path / "partial.pt")
    torch.save({"weights": torch.ones(2)}, tmp_path / "foreign.pt")
    with pytest.raises(CheckpointError, match="foreign.pt is not a diffkit checkpoint"):
        ckpt.load(tmp_path / "foreign.pt")
    with pytest.raises(CheckpointError, match="checkpoint not found: .*nothing.pt"):
        ckpt.load(tmp_path / "nothing.pt")


def test_malicious_checkpoint_is_refused_and_runs_nothing(tmp_path: Path) -> None:
    marker = tmp_path / "PWNED"
    path = malicious_checkpoint(tmp_path / "evil.pt", marker)
    # the payload is real: the unsafe loader would run it
    torch.load(path, weights_only=False)
    assert marker.exists()
    marker.unlink()

    with pytest.raises(UnsafeCheckpointError) as info:
        ckpt.load(path)
    assert not marker.exists()
    message = str(info.value)
    assert message.startswith(f"refused to load {path}: it would load ")
    assert "\n" not in message


def test_load_latest_skips_a_corrupt_newest_file_but_stops_at_an_unsafe_one(tmp_path: Path, capsys) -> None:
    for step in (1, 2):
        ckpt.save_rotating(_state(step), tmp_path, step, keep=3)
    newest = tmp_path / "step_0000003.pt"
    newest.write_bytes(_good_bytes()[:100])
    path, state = ckpt.load_latest(tmp_path)
    assert (path.name, state["step"]) == ("step_0000002.pt", 2)
    assert f"skipping {newest}" in capsys.readouterr().err

    marker = tmp_path / "PWNED"
    malicious_checkpoint(newest, marker)
    with pytest.raises(UnsafeCheckpointError, match="step_0000003.pt"):
        ckpt.load_latest(tmp_path)
    assert not marker.exists()


WRITER = """
import sys, torch
from diffkit import checkpoint as ckpt
path, step = sys.argv[1], 0
while True:
    step += 1
    ckpt.save_atomic({"format": 1, "step": step, "config": {}, "model": {"w": torch.full((1_000_000,), float(step))},
                      "in_channels": 1, "num_classes": 0}, path)
    print(step, flush=True)
"""


@pytest.mark.slow
def test_writer_killed_at_random_moments_leaves_a_loadable_file(tmp_path: Path) -> None:
    """SIGKILL a process that rewrites a 4 MB checkpoint in a loop: the file is always whole."""
    path = tmp_path / "last.pt"
    rng = random.Random()
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip()  # at least one complete write
    time.sleep(rng.uniform(0.0, 0.5))
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    state = ckpt.load(path)
    assert torch.equal(state["model"]["w"], torch.full((1_000_000,), float(state["step"])))
