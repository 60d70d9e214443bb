"""The sampler of docs/writing-a-plugin.md, taken from its ``<!-- file: -->`` block, runs on
every kind of built-in process: with the Bayes-optimal denoiser of x0 ~ N(M, S^2)
(tests/gaussian_oracle.py) it samples N(M, S^2) again on EDM (prior scale sigma_max = 80),
rectified flow (prior scale 1 at t = 1) and the discrete `linear` chain. Started from unit
noise, as the runner starts it: the base class must scale it."""

from __future__ import annotations

import re
import types

import pytest
import torch

from diffkit.interfaces import Sampler
from tests.conftest import REPO
from tests.gaussian_oracle import process_oracle

DOC = REPO / "docs" / "writing-a-plugin.md"
FILE_BLOCK = re.compile(r"^<!-- file: (?P<path>\S+) -->\n```\w+\n(?P<body>.*?)^```", re.M | re.S)
M, S = 0.2, 0.5
PROCESSES = {
    "edm": {"name": "edm"},
    "rectified_flow": {"name": "rectified_flow"},
    "linear": {"name": "linear"},
}


def documented_sampler() -> type[Sampler]:
    """The sampler class of the walkthrough's my_kinds/sampler.py, executed as written."""
    body = next(m["body"] for m in FILE_BLOCK.finditer(DOC.read_text()) if m["path"].endswith("my_kinds/sampler.py"))
    module = types.ModuleType("my_kinds_sampler")
    exec(compile(body, str(DOC), "exec"), module.__dict__)
    (cls,) = [v for v in vars(module).values() if isinstance(v, type) and issubclass(v, Sampler) and v is not Sampler]
    return cls


def sample_errors(plugins, process: str, steps: int = 50) -> tuple[float, float]:
    """(mean - M, std - S) of 16384 pixels sampled from standardised unit noise."""
    p = plugins.registry.build("scheduler", PROCESSES[process]).to(torch.float64)
    sampler = documented_sampler()(clip_sample=False)  # Gaussian data is unbounded
    z = torch.randn(4, 1, 64, 64, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    x = sampler.sample(process_oracle(p, M, S), p, (z - z.mean()) / z.std(), steps=steps)
    assert torch.isfinite(x).all()
    return x.mean().item() - M, x.std().item() - S


def test_the_documented_sampler_registers_with_the_base_config_keys(plugins) -> None:
    from diffkit.registry import Registry, accepted_params

    cls = documented_sampler()
    Registry().add("sampler", "my_euler", cls)  # the registration checks pass
    assert set(accepted_params(cls)) == {"steps", "spacing", "clip_sample"}
    assert cls().num_steps(plugins.registry.build("scheduler", {"name": "linear"}), None) == 20


@pytest.mark.parametrize("process", PROCESSES)
def test_the_documented_sampler_reproduces_gaussian_data(plugins, process: str) -> None:
    d_mean, d_std = sample_errors(plugins, process)
    assert abs(d_mean) < 0.005 and abs(d_std) < 0.035, (
        d_mean,
        d_std,
    )  # Euler: first order, as DDIM in test_oracle_processes


def test_the_check_fails_when_the_prior_scale_is_ignored(plugins, monkeypatch: pytest.MonkeyPatch) -> None:
    """Starting EDM from x = noise (std 1 instead of 80) leaves samples far too narrow."""
    monkeypatch.setattr(Sampler, "start", staticmethod(lambda scheduler, noise, first: noise))
    d_mean, d_std = sample_errors(plugins, "edm")
    assert abs(d_std) > 0.3


def test_a_sampler_written_for_api_1_1_that_overrides_sample_still_registers() -> None:
    from diffkit.registry import Registry

    class Legacy(Sampler):
        def sample(self, model, scheduler, noise, *, steps=None, generator=None, guidance=None):
            return noise

    class Nothing(Sampler):
        pass

    registry = Registry()
    registry.add("sampler", "legacy", Legacy)
    assert Legacy().sample(None, None, torch.ones(1)).item() == 1.0
    from diffkit.errors import PluginValidationError

    with pytest.raises(PluginValidationError, match=r"without implementing update"):
        registry.add("sampler", "nothing", Nothing)
