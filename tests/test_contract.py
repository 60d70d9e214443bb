"""A kind's plugin contract (diffkit/contract.py), as ``diffkit plugins --api KIND`` prints it
and docs/reference/plugin-api.md starts each kind with it; and the interfaces' docstrings
it is made from: Markdown, one ``Args:`` line per parameter."""

from __future__ import annotations

import inspect
import pkgutil
import re

import pytest

from diffkit import interfaces
from diffkit.cli.main import main
from diffkit.contract import contract, hooks, implements_cell
from diffkit.interfaces import KINDS


def test_a_continuous_process_lists_what_a_plugin_really_implements() -> None:
    assert implements_cell("scheduler") == (
        "`__init__` (`diffkit.Scheduler`); or `alpha_sigma`, `alpha_sigma_derivative`, `t_from_log_snr` "
        "(`diffkit.ContinuousProcess`)"
    )
    text = contract("scheduler")
    assert "- `t_from_log_snr(lam)` **(implement)**" in text and "- `alpha_sigma_derivative(t)` **(implement)**" in text
    assert "`evenly_spaced_t(n, device)` **(implement)**" not in text  # the base has it


@pytest.mark.parametrize("kind", KINDS)
def test_plugins_api_prints_each_kinds_contract(kind: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plugins", "--api", kind]) == 0
    out = capsys.readouterr().out
    base = KINDS[kind]
    assert out.startswith(f"### `{kind}`: `diffkit.{base.__name__}`")
    for name in getattr(base, "__abstractmethods__", ()):
        if kind != "scheduler":  # the scheduler's routes are the concrete Scheduler / ContinuousProcess
            assert re.search(rf"^- `{name}\(.*\)` \*\*\(implement\)\*\*", out, re.M), name


def test_the_sampler_and_metric_contracts_name_their_settings(capsys: pytest.CaptureFixture[str]) -> None:
    assert "`update(x, cur, nxt, path)` **(implement)**" in contract("sampler")
    assert "`__init__(steps=None, spacing='trailing', clip_sample=True)`" in contract("sampler")
    assert "`higher_is_better = False`, `description = ''`" in contract("metric")
    assert main(["plugins", "--api", "hooks"]) == 0
    assert capsys.readouterr().out == hooks() and "- `diffkit_eval(run, step, metrics)`: " in hooks()
    assert main(["plugins", "--api", "schedular"]) == 2
    assert "--api 'schedular' is not a kind" in capsys.readouterr().err


def docstrings() -> list[tuple[str, str]]:
    """(where, docstring) of every module, class and function of diffkit/interfaces/."""
    found = []
    for info in pkgutil.iter_modules(interfaces.__path__):
        module = __import__(f"diffkit.interfaces.{info.name}", fromlist=["_"])
        found.append((module.__name__, module.__doc__ or ""))
        for name, obj in vars(module).items():
            if getattr(obj, "__module__", None) == module.__name__ and (
                inspect.isclass(obj) or inspect.isfunction(obj)
            ):
                found.append((f"{module.__name__}.{name}", obj.__doc__ or ""))
                for member, value in vars(obj).items() if inspect.isclass(obj) else ():
                    if inspect.isfunction(value):
                        found.append((f"{module.__name__}.{name}.{member}", value.__doc__ or ""))
    return found


def test_interface_docstrings_are_markdown_with_one_parameter_per_args_line() -> None:
    roles = [where for where, doc in docstrings() if re.search(r":(meth|class|func|mod|data|attr|obj):`", doc)]
    assert not roles, f"raw Sphinx roles in {roles}; write `name` or [`Name`][diffkit.interfaces.module.Name]"
    multi = []
    for where, doc in docstrings():
        args = re.search(r"^\s*Args:\n(.*?)(?:\n\s*\n|\Z)", doc, re.M | re.S)
        if args and re.search(r"^\s+\w+, \w+:", args.group(1), re.M):
            multi.append(where)
    assert not multi, f"an Args: line names two parameters in {multi} (mkdocstrings reads it as one)"
