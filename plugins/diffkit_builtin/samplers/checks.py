"""Config checks of the built-in samplers: combinations refused before a run starts."""

from __future__ import annotations

from omegaconf import DictConfig, OmegaConf

from diffkit.errors import ConfigError
from diffkit.interfaces.continuous import ContinuousProcess
from diffkit.registry import Registry

from .heun import HeunSampler


def check_churn(cfg: DictConfig, registry: Registry) -> None:
    """Refuse ``heun`` with churn > 0 on a discrete chain (the raised noise level is no
    timestep), as its first sampling would, but before the run directory exists."""
    node = OmegaConf.to_container(cfg.sampler, resolve=True)
    scheduler = cfg.scheduler.get("name")
    if not isinstance(node, dict) or not isinstance(scheduler, str) or scheduler not in registry.names("scheduler"):
        return
    if node.get("name") not in registry.names("sampler"):
        return
    sampler_cls = registry.get("sampler", node["name"]).cls
    churn = node.get("churn", 0.0)
    if not issubclass(sampler_cls, HeunSampler) or isinstance(churn, bool) or not isinstance(churn, (int, float)):
        return
    process = registry.get("scheduler", scheduler).cls
    if churn > 0 and not issubclass(process, ContinuousProcess):
        raise ConfigError(
            f"sampler.churn={churn} needs a continuous process (the raised noise level is no timestep); "
            f"scheduler '{scheduler}' is discrete: use churn=0 or a continuous scheduler (edm, vp_cosine, rectified_flow)"
        )
