"""Which way is better for each result: from the metric's own ``Metric.higher_is_better``
as the run recorded it in ``provenance.json``, else from the registered metric classes."""

from __future__ import annotations

from diffkit.sweep.collect import RunRecord

#: results that are not a metric's: direction and description.
OWN = {"train/loss": (False, "training loss (its scale depends on the loss; compare within one loss)")}


def directions(records: list[RunRecord], keys: list[str]) -> dict[str, tuple[bool | None, str]]:
    """key -> (higher_is_better or None when unknown, description) for each result key.

    A run's provenance maps each key its metrics returned to the metric's attributes; for
    runs without one, a metric registered under the key's name (``eval/fid`` -> ``fid``)
    decides, or the metric named in ``eval.metrics`` that is the only one with that
    prefix's family (precision and recall both come from ``precision_recall``)."""
    out: dict[str, tuple[bool | None, str]] = {}
    for record in records:
        for key, about in (record.provenance.get("metrics") or {}).items():
            if isinstance(about, dict) and "higher_is_better" in about:
                out.setdefault(key, (bool(about["higher_is_better"]), str(about.get("description", ""))))
    missing = [k for k in keys if k not in out]
    if missing:
        classes = _registered()
        for key in missing:
            if key in OWN:
                out[key] = OWN[key]
                continue
            stem = key.split("/", 1)[-1]
            cls = classes.get(stem) or next((c for n, c in classes.items() if stem in n.split("_")), None)
            if cls is not None:
                out[key] = (bool(getattr(cls, "higher_is_better", False)), str(getattr(cls, "description", "")))
            else:
                out[key] = (None, "")
    return out


def _registered() -> dict[str, type]:
    """Registered metric classes by name ({} when the plugins cannot be loaded)."""
    try:
        from diffkit.plugin_manager import load_plugins

        registry = load_plugins().registry
        return {e.name: e.cls for e in registry.entries("metric")}
    except Exception:  # noqa: BLE001 - a direction is a nicety: never fail a comparison for it
        return {}
