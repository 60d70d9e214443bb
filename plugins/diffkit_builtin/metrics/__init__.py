"""Built-in sample-quality metrics."""

from diffkit import hookimpl
from diffkit.registry import Registry


@hookimpl
def diffkit_register_components(registry: Registry) -> None:
    """No metric is registered yet."""
