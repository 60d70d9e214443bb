"""The files of a new plugin package, as ``string.Template`` texts keyed by relative path.

Placeholders: $dist (distribution), $package (import package), $component (the
loss's registered name), $cls (its class), $diffkit_version, $api (plugin API).
"""

PYPROJECT = """\
[build-system]
requires = ["setuptools>=70.1"]
build-backend = "setuptools.build_meta"

[project]
name = "$dist"
version = "0.1.0"
description = "A diffkit plugin that adds the loss '$component'."
readme = "README.md"
requires-python = ">=3.10"
dependencies = ["diffkit>=$diffkit_version"]

[project.optional-dependencies]
test = ["pytest>=8"]

# diffkit loads every entry point of the "diffkit" group: NAME = "module with hooks".
[project.entry-points.diffkit]
$package = "$package"

[tool.setuptools]
packages = ["$package"]

[tool.pytest.ini_options]
pythonpath = ["."]
"""

README = """\
# $dist

A [diffkit](https://pypi.org/project/diffkit/) plugin that adds the loss `$component`.

```bash
pip install -e .                        # then diffkit finds it through its entry point
diffkit plugins --kind loss             # lists $component from $dist 0.1.0
diffkit train loss.name=$component loss.weight=0.5
python -m pytest                        # the package's own test
```

Add more components in `$package/__init__.py` with `registry.add(KIND, NAME, CLASS)`;
kinds: scheduler, time_embedding, denoiser, loss, sampler, dataset, metric. A scheduler
is a noise process x_t = alpha(t) x_0 + sigma(t) eps: subclass `diffkit.Scheduler` with
betas for a discrete chain, or `diffkit.ContinuousProcess` for continuous t (plugin API 1.1).
Subclass `diffkit.WeightedLoss` instead of `Loss` to get the `weighting` options.
"""

INIT = '''\
"""$dist: diffkit components, registered through the ``diffkit`` entry point."""

from diffkit import Registry, hookimpl

from .loss import $cls

#: the diffkit plugin-API version this package was written for.
DIFFKIT_PLUGIN_API = "$api"


@hookimpl
def diffkit_register_components(registry: Registry) -> None:
    registry.add("loss", "$component", $cls)
'''

LOSS = '''\
"""The loss '$component'."""

from __future__ import annotations

from torch import Tensor

from diffkit import ConfigError, Loss, NoiseProcess


class $cls(Loss):
    """L = weight * mean((output - target)^2) over batch and pixels.

    Args:
        weight: a positive factor on the mean squared error.
    """

    def __init__(self, weight: float = 1.0) -> None:
        super().__init__()
        if not weight > 0:
            raise ConfigError(f"loss.weight={weight!r} must be > 0")
        self.weight = float(weight)

    def forward(self, output: Tensor, target: Tensor, t: Tensor, scheduler: NoiseProcess) -> Tensor:
        """output, target: (B, C, H, W); t: (B,) the process's times -> ()."""
        return self.weight * ((output - target) ** 2).mean()
'''

TEST = '''\
"""Run with: python -m pytest tests"""

import pytest
import torch

from diffkit import Registry
from $package import diffkit_register_components


def test_the_loss_is_registered_and_matches_its_formula() -> None:
    registry = Registry()
    diffkit_register_components(registry)
    loss = registry.build("loss", {"name": "$component", "weight": 0.5})
    output, target = torch.full((2, 1, 4, 4), 3.0), torch.ones(2, 1, 4, 4)
    t = torch.zeros(2, dtype=torch.long)
    assert loss(output, target, t, None).item() == pytest.approx(0.5 * 2.0**2)
'''

#: what `pip install .` writes into the source tree (setuptools builds in place).
GITIGNORE = """\
build/
*.egg-info/
__pycache__/
"""

#: relative path (itself a template) -> file text.
FILES = {
    ".gitignore": GITIGNORE,
    "pyproject.toml": PYPROJECT,
    "README.md": README,
    "$package/__init__.py": INIT,
    "$package/loss.py": LOSS,
    "tests/test_$package.py": TEST,
}
