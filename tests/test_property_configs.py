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

BASE = [
    *TINY,
    "train.steps=1",
    "train.num_samples=2",
    "train.checkpoint_every=0",
    "scheduler.num_timesteps=8",
]

#: runner keys and component parameters the overrides draw from (plus a few unknown ones).
KEYS = [
    "seed", "data.batch_size", "data.image_size", "data.root", "scheduler.num_timesteps", "scheduler.beta_start",
    "scheduler.beta_end", "scheduler.prediction_type", "scheduler.offset", "time_embedding.dim",
    "time_embedding.scale", "denoiser.channels", "denoiser.norm", "denoiser.num_res_blocks",
    "denoiser.attention_resolutions", "loss.weighting", "loss.snr_gamma", "sampler.steps", "sampler.eta",
    "sampler.order", "sampler.clip_sample", "optim.name", "optim.lr", "optim.betas", "optim.weight_decay",
    "optim.warmup_steps", "optim.lr_schedule", "optim.grad_clip", "ema.decay", "ema.warmup", "train.accumulate",
    "train.precision", "train.on_nonfinite", "train.label_dropout", "train.conditional", "train.log_every",
    "train.sample_every", "train.device", "train.steps", "run.keep_checkpoints", "train.stepz", "optim.momentum",
    "train", "scheduler", "scheduler.name.x",
]
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
    st.sampled_from([0.0, -0.5, 1e-4, 0.02, 0.1, 0.5, 0.9, 0.999, 1.0, 1.5, 1e30, math.nan, math.inf]),
    st.booleans(),
    st.none(),
    st.sampled_from(["", "abc", "cosine", "eps", "v", "x0", "group", "batch", "min_snr", "skip", "bf16", "fp16",
                     "cpu", "cuda:9", "sgd", "adamw", "linear", "trailing"]),
)
VALUES = st.one_of(SCALARS, st.lists(st.one_of(st.integers(-1, 16), st.sampled_from([0.5, 0.9, 0.999])), max_size=4))
MALFORMED = st.sampled_from(["noequals", "=3", "a..b=1", "train.steps", "optim.betas=[0.9,", "seed={a: 1}"])


def _yaml(value: Any) -> str:
    """The override text YAML reads back as `value`."""
    if isinstance(value, bool) or value is None:
        return str(value).lower() if value is not None else "null"
    if isinstance(value, float):
        return ".nan" if math.isnan(value) else (".inf" if value > 0 else "-.inf") if math.isinf(value) else f"{value:.6e}"
    if isinstance(value, list):
        return "[" + ",".join(_yaml(v) for v in value) + "]"
    return repr(value) if value == "" else str(value)


OVERRIDES = st.lists(
    st.one_of(
        st.tuples(st.sampled_from(KEYS), VALUES).map(lambda kv: f"{kv[0]}={_yaml(kv[1])}"),
        st.sampled_from(sorted(NAMES)).flatmap(lambda k: st.sampled_from(NAMES[k]).map(lambda n: f"{k}={n}")),
        MALFORMED,
    ),
    max_size=4,
)
_runs = itertools.count()


@pytest.mark.slow
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
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
