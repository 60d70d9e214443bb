"""Config checks (``diffkit.runner.checks.py``): known-broken combinations exit 2 with one
line before any data is read; suspicious ones warn in one line and stay with the run."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from diffkit.config import compose
from diffkit.errors import ConfigError
from diffkit.runner import device as device_mod
from diffkit.runner.checks import ABAR_T_MAX, check
from tests.conftest import TINY
from tests.test_checkpoint_cli import cli

#: a dataset that fails the moment it is read: a refusal that comes first proves the check ran before loading.
UNREADABLE = ["data.name=fashion_mnist", "data.root=/nonexistent/fmnist"]
#: TINY with a schedule whose abar_{T-1} is ~0 (no warning).
QUIET = [*TINY, "scheduler.beta_end=0.3"]

REFUSED = [
    (
        ["scheduler.rescale_zero_terminal_snr=true"],
        "scheduler.rescale_zero_terminal_snr=true needs scheduler.prediction_type=v",
    ),
    (
        ["scheduler.name=cosine", "scheduler.rescale_zero_terminal_snr=true"],
        "scheduler.rescale_zero_terminal_snr=true needs scheduler.prediction_type=v",
    ),
    (
        ["loss.name=l1", "loss.weighting=min_snr"],
        "loss.weighting=min_snr is derived for the squared error, not loss.name=l1",
    ),
    (["loss.name=huber", "loss.weighting=min_snr"], "use loss.name=l2 or loss.weighting=none"),
]


def error_line(result) -> str:
    assert result.returncode == 2, result.stderr
    lines = [ln for ln in result.stderr.strip().splitlines() if not ln.startswith("diffkit: note:")]
    assert len(lines) == 1 and lines[0].startswith("diffkit: error: "), result.stderr
    return lines[0]


@pytest.mark.parametrize(("overrides", "message"), REFUSED, ids=[" ".join(o) for o, _ in REFUSED])
def test_broken_configs_exit_2_with_one_line(capsys, overrides, message):
    assert message in error_line(cli(capsys, "config", *TINY, *overrides))


def test_train_refuses_before_the_data_is_read(capsys, tmp_path):
    run_dir = tmp_path / "run"
    overrides, message = REFUSED[0]
    assert message in error_line(cli(capsys, "train", *TINY, *UNREADABLE, f"run.dir={run_dir}", *overrides))
    assert not run_dir.exists()
    assert "not found in /nonexistent/fmnist" in error_line(
        cli(capsys, "train", *TINY, *UNREADABLE)
    )  # the data's own error


@pytest.mark.parametrize(
    "overrides",
    [
        ["scheduler.rescale_zero_terminal_snr=true", "scheduler.prediction_type=v"],
        ["scheduler.rescale_zero_terminal_snr=true", "scheduler.prediction_type=x0"],
        ["loss.name=l2", "loss.weighting=min_snr"],
    ],
)
def test_the_fixed_configs_pass(capsys, overrides):
    result = cli(capsys, "config", *QUIET, *overrides)
    assert result.returncode == 0 and "warning" not in result.stderr, result.stderr


def test_seed_schedule_warns_that_x_T_is_not_noise(plugins, capsys):
    composed = compose(None, ["scheduler.num_timesteps=300"], plugins.registry)
    abar = math.prod(1 - b for b in torch.linspace(1e-4, 0.02, 300, dtype=torch.float64).tolist())
    assert abar == pytest.approx(0.0480, abs=1e-3) and abar > ABAR_T_MAX
    [line] = check(composed.cfg, plugins)
    assert (
        line.startswith(f"scheduler: abar at t=T-1 is {abar:.3g}, so x_T keeps 0.22 of the image") and "N(0, I)" in line
    )
    assert check(compose(None, [], plugins.registry).cfg, plugins) == []  # T=1000 leaves abar ~4e-5
    result = cli(capsys, "config", "scheduler.num_timesteps=300")
    assert result.returncode == 0 and result.stderr.count("diffkit: warning: scheduler: abar at t=T-1") == 1


def test_a_run_keeps_its_warnings_in_the_run_dir_and_tensorboard(capsys, tmp_path):
    run_dir = tmp_path / "run"
    result = cli(capsys, "train", *TINY, "train.steps=1", "train.checkpoint_every=0", f"run.dir={run_dir}")
    assert result.returncode == 0
    [line] = [ln for ln in result.stderr.splitlines() if ln.startswith("diffkit: warning:")]
    kept = (run_dir / "warnings.txt").read_text().splitlines()
    assert kept == [line.removeprefix("diffkit: warning: ")] and kept[0].startswith("scheduler: abar at t=T-1")
    acc = EventAccumulator(str(run_dir), size_guidance={"tensors": 0})
    acc.Reload()
    [event] = acc.Tensors("warnings/text_summary")
    assert kept[0] in event.tensor_proto.string_val[0].decode()


# -- precision ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("flags", "native"),
    [
        ("flags\t\t: fpu sse2 avx2 fma", False),
        ("flags\t\t: fpu avx2 avx512f avx512_bf16", True),
        ("flags\t\t: fpu avx2 amx_bf16 amx_tile", True),
        ("Features\t: fp asimd bf16 i8mm", True),
        ("model name\t: bf16 in a name is not a flag", False),
    ],
)
def test_native_bf16_is_read_from_the_cpu_flags(tmp_path, flags, native):
    path = tmp_path / "cpuinfo"
    path.write_text(f"processor\t: 0\n{flags}\n\n")
    assert device_mod.cpu_has_native_bf16(str(path)) is native
    assert device_mod.cpu_has_native_bf16(str(tmp_path / "missing")) is False


@pytest.mark.parametrize(("native", "expected", "warns"), [(True, "bf16", False), (False, "fp32", True)])
def test_auto_precision_on_the_cpu_and_the_warning_for_forced_bf16(monkeypatch, capsys, native, expected, warns):
    monkeypatch.setattr(device_mod, "cpu_has_native_bf16", lambda: native)
    cpu = torch.device("cpu")
    assert device_mod.resolve_precision(cpu, "auto") == expected
    assert device_mod.resolve_precision(cpu, "fp32") == "fp32"
    assert (device_mod.precision_warning(cpu, "bf16") is not None) is warns
    assert device_mod.precision_warning(cpu, "auto") is None
    result = cli(capsys, "config", *QUIET, "train.precision=bf16", "train.device=cpu")
    assert result.returncode == 0
    assert ("diffkit: warning: train.precision=bf16 on a CPU without native bf16" in result.stderr) is warns


@pytest.mark.parametrize(("supported", "expected"), [(True, "bf16"), (False, "fp16")])
def test_auto_precision_on_cuda(monkeypatch, supported, expected):
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: supported)
    assert device_mod.resolve_precision(torch.device("cuda"), "auto") == expected


def test_shipped_configs_default_to_auto_precision_and_fp16_on_cpu_is_refused(plugins):
    root = Path(__file__).resolve().parents[1] / "configs"
    for path in sorted(root.glob("*.yaml")):
        assert compose(path, [], plugins.registry).cfg.train.precision == "auto", path
    assert compose(None, [], plugins.registry).cfg.train.precision == "auto"
    assert compose(root / "seed_reference.yaml", [], plugins.registry).cfg.sampler.clip_sample is False  # the post's
    with pytest.raises(ConfigError, match="train.precision=fp16 needs CUDA"):
        device_mod.resolve_precision(torch.device("cpu"), "fp16")


def test_quick_benchmark_marks_and_skips_emulated_bf16(monkeypatch):
    from benchmarks import run

    monkeypatch.setattr(device_mod, "cpu_has_native_bf16", lambda: False)
    monkeypatch.setattr(run, "_measure_option", lambda *a, **k: pytest.fail("measured in quick mode"))
    s = {**run.SETTINGS["quick"], "networks": 1, "options": ("bf16",)}
    rows = run.run_throughput(s, torch.device("cpu"), {"unet"})
    [bf16] = [r for r in rows if r["option"] == "bf16"]
    assert bf16["emulated"] is True and bf16["skipped"].startswith("bf16 is emulated on this CPU")
