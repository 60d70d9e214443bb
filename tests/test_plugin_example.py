"""The example third-party package's components, imported from its source tree
(``plugins/example``) without installing it: closed forms and the contracts of each kind."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from diffkit import ConfigError, Registry
from diffkit.interfaces.run import RunContext
from diffkit.plugin_manager import Plugins

EXAMPLE = Path(__file__).resolve().parents[1] / "plugins" / "example"


@pytest.fixture
def example(monkeypatch: pytest.MonkeyPatch) -> Registry:
    """A registry holding only the example package's components."""
    monkeypatch.syspath_prepend(str(EXAMPLE))
    from diffkit_example import diffkit_register_components

    registry = Registry()
    diffkit_register_components(registry)
    return registry


def test_one_component_of_each_kind(example: Registry) -> None:
    names = {kind: example.names(kind) for kind in ("scheduler", "time_embedding", "denoiser", "loss", "sampler")}
    assert names == {
        "scheduler": ["example_geometric", "example_vp_linear"],
        "time_embedding": ["example_rbf"],
        "denoiser": ["example_convnet"],
        "loss": ["example_pseudo_huber"],
        "sampler": ["example_strided"],
    }


def test_geometric_betas_are_log_linear(example: Registry) -> None:
    s = example.build(
        "scheduler", {"name": "example_geometric", "num_timesteps": 5, "beta_start": 1e-4, "beta_end": 1e-2}
    )
    expected = torch.tensor([1e-4 * 100 ** (k / 4) for k in range(5)], dtype=torch.float64)
    assert torch.allclose(s.betas.double(), expected, rtol=1e-6)
    assert torch.allclose(s.alphas_cumprod.double(), torch.cumprod(1 - expected, 0), rtol=1e-6)
    with pytest.raises(ConfigError, match="beta_start"):
        example.build("scheduler", {"name": "example_geometric", "beta_start": 0.1, "beta_end": 0.01})


def test_rbf_is_one_on_its_centres_and_gaussian_between(example: Registry) -> None:
    emb = example.build("time_embedding", {"name": "example_rbf", "dim": 5, "width": 1.0}, num_timesteps=9)
    on_centres = emb(torch.tensor([0, 2, 4, 6, 8]))
    assert torch.allclose(on_centres.diagonal(), torch.ones(5))
    # t = 1 is half a spacing from centres 0 and 1: exp(-(1/2)^2 / 2); width is one spacing
    between = emb(torch.tensor([1]))[0]
    assert between[0].item() == pytest.approx(math.exp(-0.125), rel=1e-6)
    assert between[1].item() == pytest.approx(math.exp(-0.125), rel=1e-6)
    assert between[4].item() == pytest.approx(math.exp(-(3.5**2) / 2), rel=1e-5)


def test_convnet_keeps_the_shape_and_sees_time_and_labels(example: Registry) -> None:
    torch.manual_seed(0)
    emb = example.build("time_embedding", {"name": "example_rbf", "dim": 8}, num_timesteps=50)
    net = example.build(
        "denoiser",
        {"name": "example_convnet", "width": 8, "depth": 2},
        in_channels=3,
        time_embedding=emb,
        num_classes=10,
    )
    x = torch.randn(2, 3, 6, 10)
    t = torch.tensor([3, 3])
    out = net(x, t, torch.tensor([1, 1]))
    assert out.shape == x.shape and torch.isfinite(out).all()
    assert torch.equal(out, net(x, t, torch.tensor([1, 1])))
    assert not torch.allclose(out, net(x, torch.tensor([40, 40]), torch.tensor([1, 1])))
    assert not torch.allclose(out, net(x, t, None))  # None means the "no label" class
    with pytest.raises(ConfigError, match="denoiser.width"):
        example.build("denoiser", {"name": "example_convnet", "width": 0}, in_channels=1, time_embedding=emb)


def test_pseudo_huber_closed_form_and_limits(example: Registry) -> None:
    loss = example.build("loss", {"name": "example_pseudo_huber", "c": 0.5})
    zeros, t = torch.zeros(2, 1, 2, 2), torch.zeros(2, dtype=torch.long)
    assert loss(torch.full_like(zeros, 1.2), zeros, t, None).item() == pytest.approx(0.8)  # sqrt(1.69) - 0.5
    small = example.build("loss", {"name": "example_pseudo_huber", "c": 10.0})
    assert small(torch.full_like(zeros, 0.1), zeros, t, None).item() == pytest.approx(0.1**2 / 20, rel=1e-3)
    large = example.build("loss", {"name": "example_pseudo_huber", "c": 1e-3})
    assert large(torch.full_like(zeros, -3.0), zeros, t, None).item() == pytest.approx(3.0 - 1e-3, rel=1e-6)


def test_strided_timesteps_are_distinct_and_span_the_schedule(example: Registry, plugins: Plugins) -> None:
    """The base class picks the grid from the sampler's spacing (linspace)."""
    sampler = example.build("sampler", {"name": "example_strided"})

    def taus(T: int, n: int) -> list[int]:
        s = plugins.registry.build("scheduler", {"name": "linear", "num_timesteps": T})
        return [level.t for level in s.levels(n, sampler.spacing)[:-1]]

    assert taus(1000, 10) == [999, 888, 777, 666, 555, 444, 333, 222, 111, 0]
    assert taus(1000, 1) == [999]
    for n in (2, 7, 49, 50):
        ts = taus(50, n)
        assert len(ts) == n and ts[0] == 49 and ts[-1] == 0


def test_strided_sampler_with_every_step_is_ddpm(example: Registry, plugins: Plugins) -> None:
    scheduler = plugins.registry.build("scheduler", {"name": "linear", "num_timesteps": 20, "beta_end": 0.2})
    ddpm = plugins.registry.build("sampler", {"name": "ddpm"})
    strided = example.build("sampler", {"name": "example_strided"})

    def model(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return 0.3 * x + 0.01 * t[:, None, None, None]

    noise = torch.randn(4, 1, 3, 3, generator=torch.Generator().manual_seed(1))
    a = ddpm.sample(model, scheduler, noise, generator=torch.Generator().manual_seed(2))
    b = strided.sample(model, scheduler, noise, generator=torch.Generator().manual_seed(2))
    assert torch.allclose(a, b, atol=1e-5)


@pytest.mark.parametrize("steps", [1, 3, 20])
def test_strided_sampler_recovers_a_point_mass_with_an_exact_model(example: Registry, steps: int) -> None:
    """For data x_0 = c the exact noise prediction is eps = (x_t - sqrt(abar) c) / sqrt(1 - abar)."""
    scheduler = example.build("scheduler", {"name": "example_geometric", "num_timesteps": 20, "beta_end": 0.3})
    c = torch.tensor([0.5, -0.25]).reshape(1, 2, 1, 1)

    def exact(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        abar = scheduler.alphas_cumprod[t].reshape(-1, 1, 1, 1)
        return (x - abar.sqrt() * c) / (1 - abar).sqrt()

    sampler = example.build("sampler", {"name": "example_strided", "steps": steps})
    out = sampler.sample(exact, scheduler, torch.randn(3, 2, 2, 2), generator=torch.Generator().manual_seed(0))
    assert torch.allclose(out, c.expand_as(out), atol=1e-4)
    with pytest.raises(ConfigError, match=r"sampler.steps=21 \(or --steps\) must be an integer in \[1, 20\]"):
        sampler.sample(exact, scheduler, torch.randn(1, 2, 2, 2), steps=21)


def test_csv_logger_rows_and_checkpoint_round_trip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(EXAMPLE))
    from diffkit_example import csv_logger

    run = RunContext(dir=tmp_path, config={}, step=2)
    csv_logger.diffkit_log(run=run, step=2, metrics={"train/loss": 0.5, "train/lr": 0.1})
    state: dict = {}
    csv_logger.diffkit_checkpoint_save(run=run, state=state)
    assert state == {"example_csv": {"step": 2}} and csv_logger.DIFFKIT_STATE_VERSION == 2
    csv_logger.diffkit_eval(run=run, step=2, metrics={"eval/fid": 12.5})  # after the last checkpoint: kept
    csv_logger.diffkit_log(run=run, step=4, metrics={"train/loss": 0.25})  # a later step: dropped on resume
    csv_logger.diffkit_checkpoint_load(run=run, state=state, version=2)
    csv_logger.diffkit_log(run=run, step=4, metrics={"train/loss": 0.375})
    text = (tmp_path / "metrics.csv").read_text().splitlines()
    assert text == ["step,name,value", "2,train/loss,0.5", "2,train/lr,0.1", "2,eval/fid,12.5", "4,train/loss,0.375"]
    csv_logger.diffkit_log(run=RunContext(dir=tmp_path, config={}, is_main=False), step=6, metrics={"x": 1.0})
    assert len((tmp_path / "metrics.csv").read_text().splitlines()) == 5


def test_csv_logger_migrates_a_version_1_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Version 1 stored a row count; it becomes the step of the last row counted."""
    monkeypatch.syspath_prepend(str(EXAMPLE))
    from diffkit_example import csv_logger

    run = RunContext(dir=tmp_path, config={}, step=2)
    for step in (1, 2, 2, 3):
        csv_logger.diffkit_log(run=run, step=step, metrics={"train/loss": float(step)})
    for version in (None, 1):  # None: a checkpoint from before state versions
        csv_logger.diffkit_checkpoint_load(run=run, state={"example_csv": {"rows": 2}}, version=version)
        rows = (tmp_path / "metrics.csv").read_text().splitlines()[1:]
        assert [r.split(",")[0] for r in rows] == ["1", "2", "2"]


def test_vp_linear_is_a_continuous_process_the_builtin_samplers_run(example: Registry, plugins) -> None:
    """Song et al.'s VP SDE from the example package: log alpha in closed form, the log-SNR
    inverse and dalpha/dt match, and DDIM with the Gaussian oracle reproduces N(m, s^2)."""
    from tests.gaussian_oracle import process_oracle

    p = example.build("scheduler", {"name": "example_vp_linear", "prediction_type": "velocity"}).double()
    t = torch.linspace(0.01, 0.99, 33, dtype=torch.float64)
    alpha, sigma = p.alpha_sigma(t)
    assert torch.allclose(alpha.log(), -(t**2) * (20 - 0.1) / 4 - t * 0.1 / 2)
    assert torch.allclose(alpha**2 + sigma**2, torch.ones_like(t))
    assert torch.allclose(p.t_from_log_snr(p.log_snr(t)), t)
    h = 1e-6
    assert torch.allclose(
        p.alpha_sigma_derivative(t)[0], (p.alpha_sigma(t + h)[0] - p.alpha_sigma(t - h)[0]) / (2 * h), atol=1e-6
    )
    z = torch.randn(4, 1, 32, 32, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    z = (z - z.mean()) / z.std()  # standardised: the deterministic sampler's error is discretisation alone
    m, s = 0.2, 0.5
    first = p.levels(50, "uniform_t")[0]
    x_start = first.alpha * m + (first.alpha**2 * s**2 + first.sigma**2) ** 0.5 * z
    x = plugins.registry.build("sampler", {"name": "ddim", "clip_sample": False}).sample(
        process_oracle(p, m, s), p, x_start, steps=50
    )
    assert abs(x.mean().item() - m) < 0.002 and abs(x.std().item() - s) < 0.03
