"""Nested config dicts as flat dotted keys: the one flattener of the project."""

from __future__ import annotations

from typing import Any

from omegaconf import OmegaConf


def to_dict(node: Any) -> dict[str, Any]:
    """A config mapping node (or a whole config) as plain, resolved dicts."""
    out = OmegaConf.to_container(node, resolve=True)
    if not isinstance(out, dict):
        raise TypeError(f"expected a mapping node, got {type(out).__name__}")
    return out  # type: ignore[return-value]  # OmegaConf keys are str here


def dotted(mapping: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """{"a": {"b": 1}, "c": [2]} -> {"a.b": 1, "c": [2]}; lists and empty dicts stay values."""
    out: dict[str, Any] = {}
    for key, value in mapping.items():
        full = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            out.update(dotted(value, full + "."))
        else:
            out[full] = value
    return out


def scalars(mapping: dict[str, Any]) -> dict[str, Any]:
    """`dotted`, with every value a scalar a comparison tool can show: lists and dicts
    become their text, None becomes "none"."""

    def scalar(value: Any) -> Any:
        if isinstance(value, (list, tuple)):
            return str(list(value))
        if isinstance(value, dict):
            return str(value)
        return "none" if value is None else value

    return {k: scalar(v) for k, v in dotted(mapping).items()}


def hparams(config: dict[str, Any]) -> dict[str, Any]:
    """A resolved config's hyperparameters for comparison tools: `scalars`, without the
    ``run`` section (where and how the run is kept changes no result)."""
    return scalars({k: v for k, v in config.items() if k != "run"})
