"""Config schema, composition and validation."""

from diffkit.config.compose import Composed, compose, parse_overrides, read_yaml
from diffkit.config.flat import dotted, hparams, scalars, to_dict
from diffkit.config.schema import COMPONENT_SECTIONS, DATA_RUNNER_KEYS, DiffkitConfig
from diffkit.config.validate import validate

__all__ = [
    "COMPONENT_SECTIONS",
    "DATA_RUNNER_KEYS",
    "Composed",
    "DiffkitConfig",
    "compose",
    "parse_overrides",
    "read_yaml",
    "dotted",
    "hparams",
    "scalars",
    "to_dict",
    "validate",
]
