"""Every public class documents itself; model components state their equation and shapes."""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import pkgutil

import pytest

import diffkit
from diffkit.plugin_manager import Plugins

#: the method whose docstring is each kind's contract (its shapes).
CONTRACT = {
    "scheduler": "add_noise",
    "time_embedding": "forward",
    "denoiser": "forward",
    "loss": "forward",
    "sampler": "sample",
}


def own_docstring(cls: type) -> str:
    """The class's own docstring; dataclasses' generated signature does not count."""
    doc = cls.__dict__.get("__doc__") or ""
    if dataclasses.is_dataclass(cls) and doc.startswith(f"{cls.__name__}("):
        return ""
    return doc.strip()


def public_classes() -> list[type]:
    classes = []
    for info in pkgutil.walk_packages(diffkit.__path__, "diffkit."):
        if info.name.endswith("__main__"):
            continue
        module = importlib.import_module(info.name)
        classes += [
            c
            for n, c in vars(module).items()
            if inspect.isclass(c) and c.__module__ == module.__name__ and not n.startswith("_")
        ]
    return classes


def test_every_public_class_in_diffkit_has_a_docstring() -> None:
    classes = public_classes()
    assert len(classes) > 20
    missing = [f"{c.__module__}.{c.__qualname__}" for c in classes if not own_docstring(c)]
    assert not missing, f"public classes without a docstring: {', '.join(missing)}"


def test_every_builtin_component_has_a_docstring(plugins: Plugins) -> None:
    entries = plugins.registry.entries()
    assert {e.kind for e in entries} >= set(CONTRACT) | {"dataset"}
    missing = [f"{e.kind} {e.name} ({e.cls.__qualname__})" for e in entries if not own_docstring(e.cls)]
    assert not missing, f"components without a docstring: {', '.join(missing)}"


@pytest.mark.parametrize("kind", list(CONTRACT))
def test_model_components_state_equation_and_shapes(plugins: Plugins, kind: str) -> None:
    """The class docstring gives the formula; shapes come from it or from the kind's contract."""
    for entry in plugins.registry.entries(kind):
        doc = inspect.getdoc(entry.cls) or ""
        assert "=" in doc, f"{kind} {entry.name!r}: the docstring of {entry.cls.__qualname__} states no equation"
        contract = inspect.getdoc(getattr(entry.cls, CONTRACT[kind])) or ""
        assert "(B" in doc or "(B" in contract, f"{kind} {entry.name!r}: no shapes like (B, C, H, W) documented"
