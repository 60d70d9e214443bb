"""Built-in samplers."""

from omegaconf import DictConfig

from diffkit import hookimpl
from diffkit.registry import Registry

from .checks import check_churn
from .ddim import DDIMSampler
from .ddpm import DDPMSampler
from .dpm_solver_pp import DPMSolverPPSampler
from .heun import HeunSampler


@hookimpl
def diffkit_register_components(registry: Registry) -> None:
    registry.add("sampler", "ddpm", DDPMSampler)
    registry.add("sampler", "ddim", DDIMSampler)
    registry.add("sampler", "dpm_solver_pp", DPMSolverPPSampler)
    registry.add("sampler", "heun", HeunSampler)


@hookimpl
def diffkit_check_config(cfg: DictConfig, registry: Registry) -> list[str]:
    check_churn(cfg, registry)
    return []
