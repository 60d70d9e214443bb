"""Sampler contracts: timestep spacing, DDIM determinism and its DDPM limit, respacing,
guidance, clipping, user errors and the ``diffkit sample`` command with every sampler."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from diffkit.cli.main import main
from diffkit.errors import ConfigError
from diffkit.interfaces.timesteps import spaced_timesteps
from tests.conftest import TINY, run_cli
from tests.gaussian_oracle import gaussian_oracle

FAST = ["ddim", "dpm_solver_pp", "heun"]


def scheduler(plugins, T=100, **kw):
    return plugins.registry.build("scheduler", {"name": "linear", "num_timesteps": T, **kw}).to(torch.float64)


def sampler(plugins, name, **kw):
    """Unclipped by default: the Gaussian oracles' data are not confined to [-1, 1]."""
    return plugins.registry.build("sampler", {"name": name, "clip_sample": False, **kw})


def noise(seed=0, shape=(4, 1, 16, 16)):
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


@pytest.mark.parametrize(
    ("spacing", "expected"),
    [
        ("leading", [900, 800, 700, 600, 500, 400, 300, 200, 100, 0]),
        ("trailing", [999, 899, 799, 699, 599, 499, 399, 299, 199, 99]),
        ("linspace", [999, 888, 777, 666, 555, 444, 333, 222, 111, 0]),
    ],
)
def test_spacings_match_lin_et_al_table_2(spacing, expected):
    assert spaced_timesteps(1000, 10, spacing) == expected


@pytest.mark.parametrize("spacing", ["leading", "trailing", "linspace"])
@pytest.mark.parametrize(("T", "n"), [(1000, 1), (1000, 7), (1000, 333), (100, 99), (50, 50)])
def test_spacings_give_n_distinct_descending_timesteps(spacing, T, n):
    ts = spaced_timesteps(T, n, spacing)
    assert len(ts) == n and ts == sorted(set(ts), reverse=True) and 0 <= ts[-1] and ts[0] <= T - 1
    if n == T:
        assert ts == list(range(T - 1, -1, -1))


@pytest.mark.parametrize("steps", [0, 101, 2.5, "ten"])
def test_bad_step_counts_are_config_errors(plugins, steps):
    with pytest.raises(ConfigError, match=r"sampler.steps=.* \(or --steps\) must be an integer"):
        sampler(plugins, "ddim").sample(lambda x, t: x, scheduler(plugins), noise(), steps=steps)


@pytest.mark.parametrize(
    ("name", "params", "message"),
    [
        ("ddim", {"eta": 1.5}, r"sampler.eta=1.5 must be a number in \[0, 1\]"),
        ("ddim", {"spacing": "uniform"}, "sampler.spacing='uniform' is not allowed; use one of leading, trailing"),
        ("dpm_solver_pp", {"order": 4}, "sampler.order=4 is not allowed; use 1, 2 or 3"),
        ("ddpm", {"spacing": "even"}, "sampler.spacing='even'"),
        ("heun", {"sigma_max": -1}, "sampler.sigma_max=-1 must be a number > 0"),
    ],
)
def test_bad_sampler_parameters_are_config_errors(plugins, name, params, message):
    with pytest.raises(ConfigError, match=message):
        sampler(plugins, name, **params)


def test_ddim_eta0_is_deterministic_given_the_noise(plugins):
    s = scheduler(plugins)
    model = gaussian_oracle(s, 0.3, 0.5)
    ddim = sampler(plugins, "ddim", eta=0.0)
    a = ddim.sample(model, s, noise(0), steps=20, generator=torch.Generator().manual_seed(1))
    b = ddim.sample(model, s, noise(0), steps=20, generator=torch.Generator().manual_seed(2))
    c = ddim.sample(model, s, noise(3), steps=20, generator=torch.Generator().manual_seed(1))
    assert torch.equal(a, b)
    assert not torch.allclose(a, c)
    eta1 = sampler(plugins, "ddim", eta=1.0)
    d = eta1.sample(model, s, noise(0), steps=20, generator=torch.Generator().manual_seed(2))
    assert not torch.allclose(a, d)


def test_ddim_eta1_over_all_steps_is_ddpm(plugins):
    """Same noise stream: the paths agree to rounding; and the distributions agree."""
    s = scheduler(plugins, T=200)
    model = gaussian_oracle(s, 0.3, 0.5)
    x_T = noise(0, (8, 1, 32, 32))
    ddpm = sampler(plugins, "ddpm").sample(model, s, x_T, generator=torch.Generator().manual_seed(5))
    ddim = sampler(plugins, "ddim", eta=1.0).sample(
        model, s, x_T, steps=200, generator=torch.Generator().manual_seed(5)
    )
    torch.testing.assert_close(ddim, ddpm, rtol=0, atol=1e-4)  # schedule buffers are float32
    other = sampler(plugins, "ddim", eta=1.0).sample(
        model, s, noise(1, (8, 1, 32, 32)), steps=200, generator=torch.Generator().manual_seed(6)
    )
    # two independent 8192-pixel samples of the same law: means within 4 standard errors
    se = 0.5 * (2 / 8192) ** 0.5
    assert abs(other.mean() - ddpm.mean()) < 4 * se and abs(other.std() - ddpm.std()) < 4 * se / 2**0.5
    assert not torch.allclose(other, ddpm)


def test_ddpm_respaces_to_fewer_steps(plugins):
    s = scheduler(plugins, T=1000)
    calls = []

    def model(x, t):
        calls.append(int(t[0]))
        return gaussian_oracle(s, 0.3, 0.5)(x, t)

    x = sampler(plugins, "ddpm").sample(
        model, s, noise(0, (4, 1, 64, 64)), steps=100, generator=torch.Generator().manual_seed(0)
    )
    assert calls == spaced_timesteps(1000, 100, "linspace")
    assert abs(x.mean().item() - 0.3) < 0.01 and abs(x.std().item() - 0.5) < 0.05


@pytest.mark.parametrize("name", ["ddpm", *FAST])
def test_guidance_replaces_the_model_output_at_every_evaluation(plugins, name):
    """A guidance function that swaps in the oracle of another distribution moves the samples there."""
    s = scheduler(plugins, T=1000, prediction_type="v")
    evaluations = []
    target = gaussian_oracle(s, -0.5, 0.5)

    def guidance(out, x, t):
        evaluations.append(t)
        assert out.shape == x.shape and t.shape == (x.shape[0],) and t.dtype == torch.long
        return target(x, t)

    x = sampler(plugins, name).sample(gaussian_oracle(s, 0.5, 0.5), s, noise(0, (4, 1, 32, 32)), guidance=guidance)
    assert evaluations
    assert abs(x.mean().item() + 0.5) < 0.02 and abs(x.std().item() - 0.5) < 0.05


@pytest.mark.parametrize("name", ["ddpm", *FAST])
def test_clip_sample_keeps_predictions_in_range(plugins, name):
    s = scheduler(plugins, T=100)
    wide = gaussian_oracle(s, 0.0, 3.0)
    x = sampler(plugins, name, clip_sample=True).sample(wide, s, noise(), steps=100 if name == "ddpm" else 10)
    plain = sampler(plugins, name).sample(wide, s, noise(), steps=100 if name == "ddpm" else 10)
    assert plain.abs().max() > 2
    assert x.abs().max() <= 1.0 + 0.05  # ddpm adds its last, tiny posterior noise


@pytest.mark.parametrize("prediction_type", ["eps", "x0", "v"])
@pytest.mark.parametrize("name", ["ddpm", *FAST])
def test_zero_terminal_snr_samples_are_finite_in_float32(plugins, name, prediction_type):
    s = plugins.registry.build(
        "scheduler",
        {"name": "cosine", "num_timesteps": 100, "rescale_zero_terminal_snr": True, "prediction_type": prediction_type},
    )
    assert s.alphas_cumprod[-1] == 0
    model = gaussian_oracle(s, 0.2, 0.5)
    x = sampler(plugins, name).sample(model, s, noise().float(), steps=100 if name == "ddpm" else 10)
    assert x.dtype == torch.float32 and torch.isfinite(x).all()


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    run_cli("train", *TINY, f"run.dir={out}", "train.steps=2", "train.checkpoint_every=0")
    return out


@pytest.mark.slow
@pytest.mark.parametrize(
    "args",
    [
        ["--sampler", "ddim", "--steps", "5", "sampler.eta=0.5", "sampler.spacing=leading"],
        ["--sampler", "dpm_solver_pp", "--steps", "4", "sampler.order=3"],
        ["--sampler", "heun", "--steps", "3"],
    ],
)
def test_cli_samples_with_every_sampler(tiny_run, tmp_path, capsys, args):
    """In-process `diffkit sample` (the training run is a subprocess); overrides may follow options."""
    out = tmp_path / "s.npz"
    assert main(["sample", str(tiny_run), "--num", "3", "--out", str(out), *args]) == 0
    images = np.load(out)["arr_0"]
    assert images.shape == (3, 8, 8, 1) and images.dtype == np.uint8
    assert f"sampler {args[1]}" in capsys.readouterr().err


@pytest.mark.slow
def test_cli_reports_a_bad_step_count_on_one_line(tiny_run, tmp_path, capsys):
    """The run's own ddpm respaces to --steps K <= T; K > T (50 here) is refused."""
    assert main(["sample", str(tiny_run), "--out", str(tmp_path / "s.png"), "--steps", "51"]) == 2
    err = capsys.readouterr().err
    assert err.strip().count("\n") == 0 and "sampler.steps=51" in err and "[1, 50]" in err
    assert main(["sample", str(tiny_run), "--out", str(tmp_path / "s.npz"), "--num", "2", "--steps", "7"]) == 0
