"""The layers hold (import-linter's contracts in pyproject.toml), and the checks that keep
the code readable pass: ruff (lint and format) and mypy on ``diffkit/``."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def lint_imports(root: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(root)}
    command = "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())"
    return subprocess.run(
        [sys.executable, "-c", command, "--config", str(root / "pyproject.toml")],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_layers_never_reach_up() -> None:
    proc = lint_imports(REPO)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "broken" not in proc.stdout.lower().replace("0 broken", "")


@pytest.mark.parametrize(
    ("module", "upward"),
    [
        ("diffkit/interfaces/run.py", "import diffkit.runner.train"),  # the core reaching the runner
        ("diffkit/runner/step.py", "import diffkit.sweep.job"),  # the runner reaching sweeps
        ("diffkit/sweep/job.py", "import diffkit.cli.main"),  # sweeps reaching the CLI
    ],
)
def test_an_upward_import_breaks_a_contract(tmp_path: Path, module: str, upward: str) -> None:
    shutil.copytree(REPO / "diffkit", tmp_path / "diffkit", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    target = tmp_path / module
    target.write_text(target.read_text() + f"\n{upward}  # noqa\n")
    proc = lint_imports(tmp_path)
    assert proc.returncode != 0 and "BROKEN" in proc.stdout, proc.stdout + proc.stderr


def test_the_version_is_written_once_per_file_and_agrees() -> None:
    import tomllib

    from diffkit.version import __version__

    assert tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"] == __version__


def _run(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *argv], cwd=REPO, capture_output=True, text=True, timeout=600)


def test_ruff_lint_and_format_pass() -> None:
    lint = _run("ruff", "check", "diffkit", "plugins", "benchmarks", "tests", "docs")
    assert lint.returncode == 0, lint.stdout[-4000:] + lint.stderr
    formatted = _run("ruff", "format", "--check", "diffkit", "plugins", "benchmarks", "tests", "docs")
    assert formatted.returncode == 0, formatted.stdout[-4000:] + formatted.stderr


@pytest.mark.slow
def test_mypy_passes_on_diffkit() -> None:
    proc = _run("mypy")  # files and options: [tool.mypy] in pyproject.toml
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr
