"""Built-in samplers."""

from diffkit import hookimpl
from diffkit.registry import Registry

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
