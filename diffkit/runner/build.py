"""Turn a resolved config into components, by name, through the registry."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from omegaconf import DictConfig

from diffkit.config import to_dict
from diffkit.config.schema import DATA_RUNNER_KEYS
from diffkit.errors import ConfigError
from diffkit.interfaces import Dataset, Denoiser, Loss, Sampler, Scheduler, TimeEmbedding
from diffkit.registry import Registry


@dataclass
class Components:
    """The built model-side components of a run, as the runner and samplers use them."""

    scheduler: Scheduler
    time_embedding: TimeEmbedding
    denoiser: Denoiser
    loss: Loss
    sampler: Sampler

    @property
    def process(self) -> Scheduler:
        """The noise process (``scheduler`` in configs)."""
        return self.scheduler

    def records(self) -> dict[str, Any]:
        """The ``{name, **params}`` each component was built from (defaults included)."""
        return {k: getattr(getattr(self, k), "build_config", None) for k in self.__dataclass_fields__}


def node(cfg: DictConfig, section: str) -> dict[str, Any]:
    return to_dict(cfg[section])


def build_dataset(registry: Registry, cfg: DictConfig) -> Dataset:
    params = {k: v for k, v in node(cfg, "data").items() if k not in DATA_RUNNER_KEYS}
    return registry.build("dataset", params, where="data", image_size=cfg.data.image_size)


def build_components(
    registry: Registry, cfg: DictConfig, in_channels: int, num_classes: int = 0, seed: int | None = None
) -> Components:
    """Build every model-side component; the denoiser gets the time embedding injected.
    `seed`: seed torch's RNG just before the time embedding and denoiser are built, so their
    initial weights do not depend on what the data or the process drew (``runner/pairing.py``)."""
    scheduler = registry.build("scheduler", node(cfg, "scheduler"))
    if seed is not None:
        torch.manual_seed(seed)
    time_embedding = registry.build(
        "time_embedding", node(cfg, "time_embedding"), num_timesteps=scheduler.num_timesteps
    )
    if time_embedding.discrete_only and not scheduler.discrete:
        raise ConfigError(
            f"time_embedding.name={cfg.time_embedding.name!r} needs integer timesteps, but scheduler "
            f"{cfg.scheduler.name!r} is a continuous process; use time_embedding.name=sinusoidal or fourier"
        )
    denoiser = registry.build(
        "denoiser",
        node(cfg, "denoiser"),
        in_channels=in_channels,
        time_embedding=time_embedding,
        num_classes=num_classes,
    )
    problem = denoiser.check_image_size(int(cfg.data.image_size))
    if problem:
        raise ConfigError(
            f"data.image_size={cfg.data.image_size} does not suit denoiser {cfg.denoiser.name!r}: {problem}"
        )
    loss = registry.build("loss", node(cfg, "loss"))
    sampler = registry.build("sampler", node(cfg, "sampler"))
    return Components(scheduler, time_embedding, denoiser, loss, sampler)
