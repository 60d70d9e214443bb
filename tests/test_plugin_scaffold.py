"""``diffkit new-plugin``: names, the files it writes, and what it refuses."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import tomllib
import torch

from diffkit import PLUGIN_API_VERSION, ConfigError, Registry, __version__
from diffkit.cli.main import main
from diffkit.scaffold import plugin_names


def test_names_derived_from_the_plugin_name() -> None:
    assert plugin_names("My-Fancy_Loss") == {
        "dist": "my-fancy-loss",
        "package": "my_fancy_loss",
        "component": "my_fancy_loss",
        "cls": "MyFancyLossLoss",
    }


@pytest.mark.parametrize("name", ["9lives", "my loss", "a/b", "", "-x", "ünï"])
def test_invalid_names_are_refused(name: str) -> None:
    with pytest.raises(ConfigError, match="plugin name .* is not allowed"):
        plugin_names(name)


def test_writes_an_installable_package_whose_component_works(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["new-plugin", "my-loss", "--dir", str(tmp_path / "pkgs")]) == 0
    root = tmp_path / "pkgs" / "my-loss"
    assert capsys.readouterr().out.strip() == str(root)
    assert sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()) == [
        ".gitignore",
        "README.md",
        "my_loss/__init__.py",
        "my_loss/loss.py",
        "pyproject.toml",
        "tests/test_my_loss.py",
    ]
    assert "build/" in (root / ".gitignore").read_text().split()  # what `pip install ./my-loss` leaves
    project = tomllib.loads((root / "pyproject.toml").read_text())
    assert project["project"]["name"] == "my-loss"
    assert project["project"]["entry-points"]["diffkit"] == {"my_loss": "my_loss"}
    assert project["project"]["dependencies"] == [f"diffkit>={__version__}"]
    assert project["tool"]["setuptools"]["packages"] == ["my_loss"]

    monkeypatch.syspath_prepend(str(root))
    import my_loss

    assert my_loss.DIFFKIT_PLUGIN_API == PLUGIN_API_VERSION
    registry = Registry()
    my_loss.diffkit_register_components(registry)
    loss = registry.build("loss", {"name": "my_loss", "weight": 3.0})
    out = loss(torch.full((2, 1, 2, 2), 2.0), torch.zeros(2, 1, 2, 2), torch.zeros(2, dtype=torch.long), None)
    assert out.item() == pytest.approx(12.0)
    with pytest.raises(ConfigError, match="loss.weight=-1"):
        registry.build("loss", {"name": "my_loss", "weight": -1})
    for path in root.rglob("*.py"):
        compile(path.read_text(), str(path), "exec")
    sys.modules.pop("my_loss", None)
    sys.modules.pop("my_loss.loss", None)


def test_refuses_to_overwrite_an_existing_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    assert main(["new-plugin", "mine", "--dir", str(tmp_path)]) == 2
    assert f"{tmp_path / 'mine'} already exists; not overwriting it" in capsys.readouterr().err
    assert [p.name for p in (tmp_path / "mine").iterdir()] == ["notes.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["mine"]  # no temporary left behind


def test_refuses_a_component_name_that_already_exists(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["new-plugin", "l1", "--dir", str(tmp_path)]) == 2
    assert "loss 'l1' already exists (plugin 'losses' (diffkit" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())
