"""The generated reference (docs/reference/*.md) and figures (docs/img/) are complete and current."""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import json
import typing
from pathlib import Path
from types import ModuleType

import pytest
from omegaconf import OmegaConf

from diffkit.cli.main import build_parser
from diffkit.config import compose, schema
from diffkit.interfaces import KINDS
from diffkit.plugin_manager import Plugins
from diffkit.registry import accepted_params, injected_params

REPO = Path(__file__).resolve().parents[1]


def docs_module(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"docs_{name}", REPO / "docs" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def pages() -> dict[str, str]:
    return docs_module("gen_reference").render()


def test_committed_reference_is_current(pages: dict[str, str]) -> None:
    for name, text in pages.items():
        path = REPO / "docs" / "reference" / name
        assert path.is_file() and path.read_text() == text, (
            f"{path.relative_to(REPO)} is stale; regenerate with `python docs/gen_reference.py`"
        )


def test_every_schema_field_has_help() -> None:
    def walk(cls: type, prefix: str) -> list[str]:
        hints, missing = typing.get_type_hints(cls), []
        for f in dataclasses.fields(cls):
            if not f.metadata.get("help"):
                missing.append(prefix + f.name)
            if dataclasses.is_dataclass(hints[f.name]):
                missing += walk(hints[f.name], f"{prefix}{f.name}.")
        return missing

    missing = walk(schema.DiffkitConfig, "")
    assert not missing, f"declare these with schema.option(default, help): {', '.join(missing)}"
    assert set(schema.DATA_RUNNER_HELP) == set(schema.DATA_RUNNER_KEYS)


def test_config_reference_covers_every_key(pages: dict[str, str]) -> None:
    defaults = OmegaConf.to_container(compose(None).cfg)
    page = pages["config.md"]
    for section, value in defaults.items():
        if section in schema.COMPONENT_SECTIONS:
            assert f"| `{section}` | [{schema.COMPONENT_SECTIONS[section]}](components.md#" in page
        elif isinstance(value, dict):
            for key in value:
                assert f"| `{section}.{key}` |" in page, f"{section}.{key} is missing from the config reference"
        else:
            assert f"| `{section}` |" in page
    for key in schema.DATA_RUNNER_KEYS:
        assert f"| `data.{key}` |" in page
    steps = defaults["train"]["steps"]
    assert f"| `train.steps` | int \\| None | `{steps}` | an integer >= 1 |" in page  # type, default, rule, in order


def test_components_reference_covers_every_component_and_parameter(pages: dict[str, str], plugins: Plugins) -> None:
    page = pages["components.md"]
    entries = plugins.registry.entries()
    assert len(entries) >= len(KINDS)
    for e in entries:
        section = page.split(f"{{#{e.kind}-{e.name}}}", 1)
        assert len(section) == 2, f"{e.kind} {e.name!r} is missing from the components reference"
        body = section[1].split("\n### ", 1)[0]
        for p in accepted_params(e.cls).values():
            if p.name not in injected_params(KINDS[e.kind]):
                assert f"| `{p.name}` |" in body, f"{e.kind} {e.name!r}: parameter {p.name!r} missing"


def test_cli_reference_covers_every_command_and_option(pages: dict[str, str]) -> None:
    page = pages["cli.md"]
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    for name, parser in sub.choices.items():
        section = page.split(f"## diffkit {name}\n", 1)
        assert len(section) == 2, f"`diffkit {name}` is missing from the CLI reference"
        for action in parser._actions:
            for option in action.option_strings:
                if option not in ("-h", "--help"):
                    assert f"`{option}" in section[1].split("\n## ", 1)[0] or f", {option}" in section[1]


@pytest.mark.slow
def test_figures_are_current(tmp_path: Path) -> None:
    """Regenerating the figures shows the same schedulers, sizes and settings as the committed ones."""
    fresh = docs_module("make_figures").main(tmp_path)
    committed = json.loads((REPO / "docs" / "img" / "figures.json").read_text())
    assert fresh == committed, "docs/img is stale; regenerate with `python docs/make_figures.py`"
    for name in fresh:
        assert (REPO / "docs" / "img" / name).is_file()
        assert (tmp_path / name).stat().st_size > 1000
