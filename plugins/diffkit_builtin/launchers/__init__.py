"""Built-in launchers: where the runs of a sweep are trained."""

from diffkit import hookimpl
from diffkit.registry import Registry

from .inline import InlineLauncher
from .local import LocalLauncher
from .slurm import SubmititLauncher


@hookimpl
def diffkit_register_components(registry: Registry) -> None:
    registry.add("launcher", "local", LocalLauncher)
    registry.add("launcher", "submitit", SubmititLauncher)
    registry.add("launcher", "inline", InlineLauncher)
