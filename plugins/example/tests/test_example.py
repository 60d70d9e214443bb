"""The package's own checks: run with `python -m pytest plugins/example/tests`."""

import torch

from diffkit import Registry
from diffkit_example import diffkit_register_components
from diffkit_example.geometric import GeometricScheduler
from diffkit_example.pseudo_huber import PseudoHuberLoss


def test_registers_one_component_of_each_kind() -> None:
    registry = Registry()
    diffkit_register_components(registry)
    assert registry.names("scheduler") == ["example_geometric"]
    assert registry.names("sampler") == ["example_strided"]


def test_geometric_betas_have_a_constant_ratio() -> None:
    betas = GeometricScheduler(num_timesteps=11, beta_start=1e-4, beta_end=1e-2).betas.double()
    assert torch.allclose(betas[1:] / betas[:-1], torch.full((10,), 10**0.2, dtype=torch.float64), rtol=1e-5)


def test_pseudo_huber_of_a_constant_difference() -> None:
    loss = PseudoHuberLoss(c=0.5)(torch.full((2, 1, 2, 2), 1.2), torch.zeros(2, 1, 2, 2), torch.zeros(2), None)
    assert abs(loss.item() - 0.8) < 1e-6  # sqrt(1.44 + 0.25) - 0.5 = 1.3 - 0.5
