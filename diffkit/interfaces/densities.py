"""Training-time densities of t for continuous processes.

Each maps n standard draws to times in the process's training domain [t_lo, t_hi]:
  uniform:      t = t_lo + (t_hi - t_lo) u,  u ~ U(0, 1)
  logit_normal: t = t_lo + (t_hi - t_lo) sigmoid(loc + scale z),  z ~ N(0, 1)
                (Esser et al. 2024, sec. 3.1; loc = 0, scale = 1 is their best "lognorm(0, 1)")
  log_normal:   sigma = sigma/alpha = exp(loc + scale z), t = t(lambda = -2 log sigma)
                (Karras et al. 2022, P_mean = loc = -1.2, P_std = scale = 1.2)

Density and loss weighting are one choice seen twice: E_{t~p}[w(t) L(t)] =
int p(lambda) w(lambda) L(lambda) dlambda depends on the product p w alone, so drawing from
p' with weights w p / p' optimises the same objective (with another gradient variance).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from diffkit.errors import ConfigError

#: name -> (default loc, default scale); None where the density takes neither.
DENSITIES: dict[str, tuple[float, float] | None] = {
    "uniform": None,
    "logit_normal": (0.0, 1.0),
    "log_normal": (-1.2, 1.2),
}


def check_density(name: str, loc: float | None, scale: float | None) -> tuple[float, float]:
    """Validate `name` and fill its default loc / scale."""
    if name not in DENSITIES:
        raise ConfigError(f"scheduler.density={name!r} is not allowed; use one of {', '.join(DENSITIES)}")
    default = DENSITIES[name] or (0.0, 1.0)
    loc = default[0] if loc is None else loc
    scale = default[1] if scale is None else scale
    for key, value in (("density_loc", loc), ("density_scale", scale)):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"scheduler.{key}={value!r} must be a number")
    if not scale > 0:
        raise ConfigError(f"scheduler.density_scale={scale!r} must be > 0")
    return float(loc), float(scale)


def draw(
    name: str,
    loc: float,
    scale: float,
    domain: tuple[float, float],
    t_from_log_snr: Callable[[Tensor], Tensor],
    n: int,
    generator: torch.Generator | None,
    device: torch.device | str,
) -> Tensor:
    """n times (n,) float32 from density `name` (see the module docstring)."""
    lo, hi = domain
    if name == "uniform":
        return lo + (hi - lo) * torch.rand((n,), generator=generator, device=device)
    z = torch.randn((n,), generator=generator, device=device)
    if name == "logit_normal":
        return lo + (hi - lo) * torch.sigmoid(loc + scale * z)
    return t_from_log_snr(-2 * (loc + scale * z))
