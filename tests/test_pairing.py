"""Paired designs (runner/pairing.py): two arms with the same seed start from the same
weights and see the same first batch and the same training noise, even when their
processes draw training times differently (discrete integers vs continuous times)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from diffkit.cli.main import main
from diffkit.runner import pairing
from tests.conftest import TINY

ARMS = {
    "l2-linear": ["loss.name=l2", "scheduler.name=linear", "scheduler.num_timesteps=50"],
    "l1-linear": ["loss.name=l1", "scheduler.name=linear", "scheduler.num_timesteps=50"],
    "l2-flow": ["loss.name=l2", "scheduler.name=rectified_flow"],
    "l2-edm": ["loss.name=l2", "scheduler.name=edm"],
}


def record_first_step(monkeypatch) -> dict[str, dict]:
    """Patch the build and Batches to keep each run's initial weights, first batch and first noise."""
    seen: dict[str, dict] = {}
    current: dict = {}
    from diffkit.runner import data as data_mod

    original_batch = data_mod.Batches.__call__

    def batch(self, step):
        out = original_batch(self, step)
        current.setdefault("batch", out[0].clone())
        return out

    from diffkit.runner import setup as train_mod

    original_build = train_mod.build_components

    def build(*args, **kwargs):
        parts = original_build(*args, **kwargs)
        current["weights"] = {k: v.clone() for k, v in parts.denoiser.state_dict().items()}
        add_noise = parts.scheduler.add_noise

        def recording(x, noise, t):  # the noise training actually used
            current.setdefault("noise", []).append(noise.clone())
            return add_noise(x, noise, t)

        parts.scheduler.add_noise = recording
        return parts

    monkeypatch.setattr(train_mod, "build_components", build)
    monkeypatch.setattr(data_mod.Batches, "__call__", batch)
    return seen, current


@pytest.mark.parametrize("seed", [3])
def test_arms_with_the_same_seed_share_init_first_batch_and_noise(tmp_path: Path, monkeypatch, seed: int):
    seen, current = record_first_step(monkeypatch)
    for name, overrides in ARMS.items():
        current.clear()
        run = tmp_path / name
        args = [
            "train",
            "configs/tiny.yaml",
            *(o for o in TINY if not o.startswith("scheduler.")),
            f"seed={seed}",
            f"run.dir={run}",
            "train.steps=2",
            "data.batch_size=8",
            "time_embedding.name=sinusoidal",
            *overrides,
        ]
        assert main(args) == 0
        seen[name] = dict(current)
        check_provenance(run)
    names = list(ARMS)
    for other in names[1:]:
        first, theirs = seen[names[0]]["weights"], seen[other]["weights"]
        assert theirs.keys() == first.keys()
        for key, value in first.items():
            assert torch.equal(value, theirs[key]), (other, key)
        assert torch.equal(seen[other]["batch"], seen[names[0]]["batch"]), other
        assert len(seen[other]["noise"]) == 3  # the forward-process strip's, then the 2 steps'
        for mine, theirs in zip(seen[names[0]]["noise"][1:], seen[other]["noise"][1:]):
            assert torch.equal(mine, theirs), other


def test_step_noise_is_a_function_of_seed_and_step_only():
    a, b = pairing.StepNoise(1, torch.device("cpu")), pairing.StepNoise(1, torch.device("cpu"))
    first = a(4, (1, 2, 2), 0)
    a(4, (1, 2, 2), 1)
    assert torch.equal(b(4, (1, 2, 2), 0), first)  # b skipped nothing: the same draw
    assert not torch.equal(a(4, (1, 2, 2), 1), first)
    assert not torch.equal(pairing.StepNoise(2, torch.device("cpu"))(4, (1, 2, 2), 0), first)


def check_provenance(run: Path) -> None:
    """provenance.json, written at the start and updated at the end of the run."""
    import json

    import diffkit

    prov = json.loads((run / "provenance.json").read_text())
    assert prov["diffkit"] == diffkit.__version__ and prov["torch"] == torch.__version__
    assert prov["project"]["git"] is None or set(prov["project"]["git"]) == {"commit", "dirty"}
    assert any(p["dist"] == "diffkit" for p in prov["plugins"])
    assert prov["precision"] == "fp32" and prov["world_size"] == 1
    assert prov["batch"] == {"per_device": 8, "accumulate": 1, "effective": 8}
    assert prov["images_seen"] == 16 and prov["step"] == 2 and prov["wall_time_s"] > 0
    assert prov["hardware"]["device"] == "cpu" and isinstance(prov["hardware"]["cpu"]["bf16_native"], bool)
