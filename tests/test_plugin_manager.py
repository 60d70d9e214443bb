"""Plugin discovery and isolation with real (but pip-free) distributions: each test
writes modules and a ``*.dist-info`` with an ``entry_points.txt`` into a temporary
directory on sys.path, which ``importlib.metadata`` finds like an installed package."""

from __future__ import annotations

import importlib
import io
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from diffkit import PLUGIN_API_VERSION, ConfigError, PluginError, UnknownComponentError, load_plugins
from diffkit.api import compose
from diffkit.plugin_manager import AUTOLOAD_ENV, check_api_version, warn_failures

LOSS_MODULE = """
    import torch
    from diffkit import Loss, hookimpl

    class Zero(Loss):
        def forward(self, output, target, t, scheduler):
            return torch.zeros(())

    @hookimpl
    def diffkit_register_components(registry):
        registry.add("loss", "{name}", Zero)
"""

MakeDist = Callable[..., None]


@pytest.fixture
def make_dist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[MakeDist]:
    """make_dist(dist, {module: source}, {entry point: module}, version="1.0")."""
    created: list[str] = []
    monkeypatch.delenv(AUTOLOAD_ENV, raising=False)
    monkeypatch.syspath_prepend(str(tmp_path))

    def make(dist: str, modules: dict[str, str], entry_points: dict[str, str], version: str = "1.0") -> None:
        for name, source in modules.items():
            (tmp_path / f"{name}.py").write_text(textwrap.dedent(source))
            created.append(name)
        info = tmp_path / f"{dist.replace('-', '_')}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
        lines = "".join(f"{ep} = {module}\n" for ep, module in entry_points.items())
        (info / "entry_points.txt").write_text(f"[diffkit]\n{lines}")
        importlib.invalidate_caches()

    yield make
    for name in created:
        sys.modules.pop(name, None)


def loss_plugin(name: str, extra: str = "") -> str:
    return textwrap.dedent(LOSS_MODULE).replace("{name}", name) + extra


def failed(plugins) -> dict[str, str]:
    return {info.name: f"{info.dist} {info.version}: {info.error}" for info in plugins.failed}


def test_an_installed_plugin_registers_under_its_distribution(make_dist: MakeDist) -> None:
    make_dist("diffkit-good", {"good_mod": loss_plugin("good_loss")}, {"good": "good_mod"}, version="2.3")
    plugins = load_plugins()
    entry = plugins.registry.get("loss", "good_loss")
    assert (entry.origin.plugin, entry.origin.dist, entry.origin.version) == ("good", "diffkit-good", "2.3")
    assert "linear" in plugins.registry.names("scheduler")  # the built-ins load beside it
    assert not plugins.failed


def test_the_environment_variable_turns_off_autoload_but_keeps_builtins(
    make_dist: MakeDist, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_dist("diffkit-good", {"good_mod": loss_plugin("good_loss")}, {"good": "good_mod"})
    monkeypatch.setenv(AUTOLOAD_ENV, "1")
    plugins = load_plugins()
    assert "good_loss" not in plugins.registry.names("loss")
    assert "l1" in plugins.registry.names("loss")
    assert "good_mod" not in sys.modules  # not even imported


@pytest.mark.parametrize("spec", ["no:good", "no:diffkit-good", "no:Diffkit_Good"])
def test_no_name_blocks_by_entry_point_or_distribution_name(make_dist: MakeDist, spec: str) -> None:
    make_dist("diffkit-good", {"good_mod": loss_plugin("good_loss")}, {"good": "good_mod"})
    plugins = load_plugins([spec])
    assert "good_loss" not in plugins.registry.names("loss")
    assert "l1" in plugins.registry.names("loss")


def test_builtins_can_be_blocked_too() -> None:
    plugins = load_plugins(["no:tensorboard"], autoload=False)
    assert "tensorboard" not in {info.name for info in plugins.loaded}
    assert "schedulers" in {info.name for info in plugins.loaded}


def test_p_loads_an_uninstalled_module_for_one_run(make_dist: MakeDist) -> None:
    make_dist("unrelated", {"local_mod": loss_plugin("local_loss")}, {})
    assert "local_loss" in load_plugins(["local_mod"]).registry.names("loss")
    assert "local_loss" not in load_plugins().registry.names("loss")


def test_p_of_an_already_installed_plugin_is_a_no_op(make_dist: MakeDist) -> None:
    make_dist("diffkit-good", {"good_mod": loss_plugin("good_loss")}, {"good": "good_mod"})
    plugins = load_plugins(["good_mod"])
    assert plugins.registry.get("loss", "good_loss").origin.dist == "diffkit-good"
    assert not plugins.failed and not plugins.registry.conflicts()


def test_p_module_that_fails_is_an_error_naming_it(make_dist: MakeDist) -> None:
    make_dist("unrelated", {"bad_mod": "raise RuntimeError('kaput')\n"}, {})
    with pytest.raises(PluginError, match=r"bad_mod.*RuntimeError: kaput"):
        load_plugins(["bad_mod"])
    with pytest.raises(PluginError, match="no_such_module"):
        load_plugins(["no_such_module"])


def test_config_key_run_plugins_loads_a_module(make_dist: MakeDist) -> None:
    make_dist("unrelated", {"cfg_mod": loss_plugin("cfg_loss")}, {})
    plugins = compose(None, ["run.plugins=[cfg_mod]"]).plugins
    assert plugins.registry.get("loss", "cfg_loss").origin.plugin == "cfg_mod"


def test_an_import_error_is_isolated_and_names_the_distribution(make_dist: MakeDist) -> None:
    make_dist("diffkit-good", {"good_mod": loss_plugin("good_loss")}, {"good": "good_mod"})
    make_dist("diffkit-boom", {"boom_mod": "raise ImportError('needs libfoo')\n"}, {"boom": "boom_mod"}, "0.2")
    make_dist("diffkit-exit", {"exit_mod": "import sys\nsys.exit(3)\n"}, {"exiter": "exit_mod"})
    plugins = load_plugins()
    assert failed(plugins)["boom"] == "diffkit-boom 0.2: import failed: ImportError: needs libfoo"
    assert failed(plugins)["exiter"].startswith("diffkit-exit 1.0: import failed: SystemExit")
    assert "good_loss" in plugins.registry.names("loss")
    stream = io.StringIO()
    warn_failures(plugins, stream)
    assert (
        "plugin 'boom' from diffkit-boom 0.2 was not loaded: import failed: ImportError: needs libfoo"
        in stream.getvalue()
    )
    with pytest.raises(UnknownComponentError, match=r"boom \(diffkit-boom\)"):
        plugins.registry.get("loss", "boom_loss")


def test_a_failed_registration_removes_what_it_added(make_dist: MakeDist) -> None:
    half = loss_plugin("half_loss").replace(
        'registry.add("loss", "half_loss", Zero)',
        'registry.add("loss", "half_loss", Zero)\n    raise ValueError("oops")',
    )
    make_dist("diffkit-half", {"half_mod": half}, {"half": "half_mod"})
    plugins = load_plugins()
    assert failed(plugins)["half"] == "diffkit-half 1.0: registration failed: ValueError: oops"
    assert "half_loss" not in plugins.registry.names("loss")
    assert not plugins.pm.has_plugin("half")  # its lifecycle hooks are not called either


def test_a_component_breaking_its_contract_is_reported_at_load(make_dist: MakeDist) -> None:
    source = """
        from diffkit import hookimpl

        @hookimpl
        def diffkit_register_components(registry):
            registry.add("loss", "not_a_loss", dict)
    """
    make_dist("diffkit-wrong", {"wrong_mod": source}, {"wrong": "wrong_mod"})
    error = failed(load_plugins())["wrong"]
    assert "PluginValidationError" in error and "loss 'not_a_loss'" in error and "diffkit.Loss" in error


def test_a_name_registered_twice_is_a_conflict_naming_both(make_dist: MakeDist) -> None:
    make_dist("diffkit-one", {"one_mod": loss_plugin("shared")}, {"one": "one_mod"}, "1.1")
    make_dist("diffkit-two", {"two_mod": loss_plugin("shared")}, {"two": "two_mod"}, "2.2")
    plugins = load_plugins()
    stream = io.StringIO()
    warn_failures(plugins, stream)
    assert (
        "loss 'shared' is registered by both plugin 'one' (diffkit-one 1.1) and plugin 'two' (diffkit-two 2.2)"
        in stream.getvalue()
    )
    with pytest.raises(ConfigError, match=r"diffkit-one 1\.1.*diffkit-two 2\.2.*-p no:"):
        plugins.registry.get("loss", "shared")
    assert load_plugins(["no:diffkit-two"]).registry.get("loss", "shared").origin.dist == "diffkit-one"


def test_one_plugin_registering_a_name_twice_is_its_error(make_dist: MakeDist) -> None:
    twice = loss_plugin("dup").replace(
        'registry.add("loss", "dup", Zero)', 'registry.add("loss", "dup", Zero)\n    registry.add("loss", "dup", Zero)'
    )
    make_dist("diffkit-twice", {"twice_mod": twice}, {"twice": "twice_mod"})
    assert "registers loss 'dup' twice" in failed(load_plugins())["twice"]


def test_an_entry_point_name_taken_by_another_distribution_names_both(make_dist: MakeDist) -> None:
    make_dist("diffkit-aaa", {"aaa_mod": loss_plugin("aaa_loss")}, {"tools": "aaa_mod"})
    make_dist("diffkit-bbb", {"bbb_mod": loss_plugin("bbb_loss")}, {"tools": "bbb_mod"})
    plugins = load_plugins()
    assert [(i.dist, i.error) for i in plugins.failed] == [
        (
            "diffkit-bbb",
            "its name 'tools' is already used by plugin 'tools' from diffkit-aaa 1.0; block one with `-p no:NAME`",
        )
    ]
    assert "aaa_loss" in plugins.registry.names("loss")


def test_a_misspelt_hook_is_reported_with_the_closest_name(make_dist: MakeDist) -> None:
    source = """
        from diffkit import hookimpl

        @hookimpl
        def diffkit_run_strat(run):
            pass
    """
    make_dist("diffkit-typo", {"typo_mod": source}, {"typo": "typo_mod"})
    plugins = load_plugins()
    assert (
        "unknown hook(s) diffkit_run_strat (diffkit_run_strat: did you mean 'diffkit_run_start'"
        in failed(plugins)["typo"]
    )
    assert not plugins.pm.has_plugin("typo")


@pytest.mark.parametrize("declared", ["1", "1.0", 1, PLUGIN_API_VERSION])
def test_compatible_api_versions_load(make_dist: MakeDist, declared: object) -> None:
    make_dist(
        "diffkit-ok", {"ok_mod": loss_plugin("ok_loss", f"DIFFKIT_PLUGIN_API = {declared!r}\n")}, {"ok": "ok_mod"}
    )
    assert "ok_loss" in load_plugins().registry.names("loss")


@pytest.mark.parametrize("declared", ["2", "2.0", "0.9", "1.7"])
def test_incompatible_api_versions_are_refused_with_the_versions_needed(make_dist: MakeDist, declared: str) -> None:
    make_dist(
        "diffkit-new", {"new_mod": loss_plugin("new_loss", f"DIFFKIT_PLUGIN_API = {declared!r}\n")}, {"new": "new_mod"}
    )
    plugins = load_plugins()
    assert "new_loss" not in plugins.registry.names("loss")
    assert failed(plugins)["new"] == (
        f"diffkit-new 1.0: needs diffkit plugin API {declared}, but this diffkit provides plugin API 1.2 and "
        f"accepts plugins declaring 1.0 to 1.2; install a diffkit that provides {float(declared):.1f} or a release "
        "of the plugin written for 1.2"
    )


def test_a_malformed_api_version_is_refused() -> None:
    module = type(sys)("m")
    module.DIFFKIT_PLUGIN_API = "one"
    assert check_api_version(module) == "DIFFKIT_PLUGIN_API = 'one' is not a version like '1' or '1.0'"


def test_installed_distributions_are_scanned_once_until_a_folder_on_the_path_changes(
    make_dist: MakeDist, monkeypatch: pytest.MonkeyPatch
) -> None:
    import diffkit.plugin_manager as manager

    scans: list[int] = []
    scan = manager._scan_entry_points
    monkeypatch.setattr(manager, "_scan_entry_points", lambda: scans.append(1) or scan())
    manager._scanned.clear()
    load_plugins()
    load_plugins()
    assert len(scans) == 1  # the runs of an in-process sweep scan once
    make_dist("diffkit-late", {"late_mod": loss_plugin("late_loss")}, {"late": "late_mod"})
    assert "late_loss" in load_plugins().registry.names("loss")  # installing one is seen at once
    assert len(scans) == 2
