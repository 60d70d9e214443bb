"""What the exact-tier metrics need from the runner: the trained model and a known density."""

from __future__ import annotations

from diffkit.errors import ConfigError
from diffkit.interfaces import KnownDensity, MetricContext, ModelFn, NoiseProcess


def trained_model(context: MetricContext | None, metric: str) -> tuple[ModelFn, NoiseProcess]:
    """The model being evaluated and its noise process, or a ConfigError naming `metric`."""
    if context is None or context.model is None or context.process is None:
        raise ConfigError(
            f"metric {metric} scores a trained model, not a set of samples; run it "
            "from eval.metrics or `diffkit eval RUN_DIR`"
        )
    return context.model, context.process


def known_density(context: MetricContext | None, metric: str) -> KnownDensity:
    """The run's dataset as a KnownDensity, or a ConfigError naming `metric`."""
    source = context.source if context is not None else None
    if not isinstance(source, KnownDensity):
        name = getattr(source, "build_config", {}).get("name", type(source).__name__)
        raise ConfigError(
            f"metric {metric} needs data whose density is known exactly (data.name=gmm2d); data.name={name!r} is not"
        )
    return source
