"""Property: any config override either trains one step or fails with a DiffkitError,
never another exception from deep inside torch, OmegaConf or a component."""

from __future__ import annotations

import itertools
import math
import tempfile
from pathlib import Path
from typing import Any

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from diffkit.config import compose
from diffkit.errors import DiffkitError
from diffkit.runner import rundir
from diffkit.runner.train import train
from tests.conftest import TINY

BASE = [*TINY, "train.steps=1", "train.num_samples=2", "train.checkpoint_every=0"]

#: runner keys and component parameters, each with a few values that make sense (the
#: overrides draw from these and from VALUES, which mostly do not), plus unknown keys.
PLAUSIBLE: dict[str, list[Any]] = {
    "seed": [0, 7],
    "data.batch_size": [1, 2, 8],
    "data.image_size": [4, 8, 16],
    "data.root": [None],
    "scheduler.num_timesteps": [1, 2, 10],
    "scheduler.beta_start": [1e-4, 1e-3],
    "scheduler.beta_end": [0.02, 0.2],
    "scheduler.prediction_type": ["eps", "x0", "v"],
    "scheduler.offset": [0.008],
    "scheduler.rescale_zero_terminal_snr": [True],
    "time_embedding.dim": [4, 8, 16],
    "time_embedding.scale": [16.0],
    "denoiser.channels": [[4, 8], [8, 8, 8]],
    "denoiser.norm": ["group", "batch"],
    "denoiser.num_res_blocks": [1],
    "denoiser.attention_resolutions": [[4], []],
    "loss.weighting": ["none", "min_snr"],
    "loss.snr_gamma": [5.0],
    "sampler.steps": [None, 1, 5],
    "sampler.eta": [0.0, 1.0],
    "sampler.order": [1, 2],
    "sampler.clip_sample": [True],
    "optim.name": ["adam", "adamw", "sgd"],
    "optim.lr": [1e-3, 0.1],
    "optim.betas": [[0.9, 0.99]],
    "optim.weight_decay": [0.0, 0.01],
    "optim.warmup_steps": [0, 2],
    "optim.lr_schedule": ["constant", "cosine"],
    "optim.grad_clip": [None, 1.0],
    "ema.decay": [0.0, 0.9],
    "ema.warmup": [True, False],
    "train.accumulate": [1, 2],
    "train.precision": ["fp32", "bf16"],
    "train.on_nonfinite": ["stop", "skip"],
    "train.label_dropout": [0.0, 0.5],
    "train.conditional": [True, False],
    "train.log_every": [1, 3],
    "train.sample_every": [0, 1],
    "train.device": ["cpu", "auto"],
    "train.steps": [1, 2, 3],
    "run.keep_checkpoints": [1, 2],
    "train.stepz": [1],
    "optim.momentum": [0.9],
    "train": [1],
    "scheduler.name.x": [1],
}
NAMES = {
    "data.name": ["digits", "image_folder", "digitz"],
    "scheduler.name": ["linear", "cosine", "scaled_linear", "sigmoid", "continuous", "linaer"],
    "time_embedding.name": ["sinusoidal", "fourier", "learned", "sinus"],
    "denoiser.name": ["unet", "unet_adm", "unet2"],
    "loss.name": ["l1", "l2", "huber", "l3"],
    "sampler.name": ["ddpm", "ddim", "heun", "dpm_solver_pp", "euler"],
}
SCALARS = st.one_of(
    st.integers(-2, 24),
    st.sampled_from([0.0, -0.5, 1e-4, 0.5, 0.999, 1.0, 1.5, 1e30, math.nan, math.inf]),
    st.booleans(),
    st.none(),
    st.sampled_from(["", "abc", "eps", "group", "skip", "bf16", "fp16", "cuda:9", "sgd", "linear", "trailing"]),
)
VALUES = st.one_of(SCALARS, st.lists(st.one_of(st.integers(-1, 16), st.sampled_from([0.5, 0.9, 0.999])), max_size=4))
MALFORMED = st.sampled_from(["noequals", "=3", "a..b=1", "train.steps", "optim.betas=[0.9,", "seed={a: 1}"])


def _yaml(value: Any) -> str:
    """The override text YAML reads back as `value`."""
    if isinstance(value, bool) or value is None:
        return str(value).lower() if value is not None else "null"
    if isinstance(value, float) and not math.isfinite(value):
        return ".nan" if math.isnan(value) else (".inf" if value > 0 else "-.inf")
    if isinstance(value, float):
        return f"{value:.6e}"  # YAML 1.1 reads 1e+30 as a string, 1.000000e+30 as a float
    if isinstance(value, list):
        return "[" + ",".join(_yaml(v) for v in value) + "]"
    return repr(value) if value == "" else str(value)


def _setting(key: str) -> st.SearchStrategy[str]:
    value = st.one_of(st.sampled_from(PLAUSIBLE[key]), st.sampled_from(PLAUSIBLE[key]), VALUES)
    return value.map(lambda v: f"{key}={_yaml(v)}")


KINDS = {
    "setting": st.sampled_from(sorted(PLAUSIBLE)).flatmap(_setting),
    "name": st.sampled_from(sorted(NAMES)).flatmap(lambda k: st.sampled_from(NAMES[k]).map(lambda n: f"{k}={n}")),
    "malformed": MALFORMED,
}
OVERRIDES = st.lists(
    st.sampled_from(["setting"] * 6 + ["name"] * 3 + ["malformed"]).flatmap(KINDS.__getitem__), max_size=5
)
_runs = itertools.count()


@pytest.mark.slow
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(overrides=OVERRIDES)
def test_any_override_trains_one_step_or_fails_with_a_diffkit_error(plugins, overrides: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp) / f"run{next(_runs)}"
        try:
            composed = compose(None, [*BASE, f"run.dir={run_dir}", *overrides], plugins.registry)
            train(composed, plugins)
        except DiffkitError as e:
            assert "\n" not in str(e), str(e)
            return
        finally:
            torch.use_deterministic_algorithms(False)
        status = rundir.read_json(run_dir / rundir.STATUS)
        assert status["status"] == "completed" and status["step"] == composed.cfg.train.steps
        assert (run_dir / "checkpoints" / "last.pt").is_file()
