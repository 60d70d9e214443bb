"""docs/writing-a-plugin.md works as written: its ``bash`` blocks run in order, in a fresh
directory, with `pip install` going to a private target directory and `diffkit` run
as ``python -m diffkit`` from this checkout."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
import tomllib
from PIL import Image

from diffkit import hookspecs
from diffkit.plugin_manager import AUTOLOAD_ENV
from tests.conftest import REPO, cli_env

DOC = REPO / "docs" / "writing-a-plugin.md"

#: `pip install X` installs offline into $SITE (on PYTHONPATH); any other pip use is refused.
PRELUDE = """\
set -euo pipefail
pip() {
    [ "$1" = install ] || { echo "the walkthrough may only use pip install" >&2; return 1; }
    shift
    python -m pip install -q --no-deps --no-build-isolation --disable-pip-version-check --target "$SITE" "$@"
}
diffkit() { python -m diffkit "$@"; }
"""


def blocks(lang: str) -> list[str]:
    return re.findall(rf"^```{lang}\n(.*?)^```", DOC.read_text(), re.M | re.S)


def walkthrough() -> str:
    return "\n".join(blocks("bash"))


def test_the_walkthrough_names_every_step_and_its_snippets_parse() -> None:
    script = walkthrough()
    for step in (
        "diffkit new-plugin my-loss",
        "python -m pytest -q my-loss",
        "pip install ./my-loss",
        "diffkit plugins --kind loss",
        "diffkit train my-run.yaml",
        "diffkit sample",
    ):
        assert step in script
    assert tomllib.loads(blocks("toml")[0]) == {"project": {"entry-points": {"diffkit": {"my_loss": "my_loss"}}}}
    for source in blocks("python"):
        compile(source, str(DOC), "exec")
    hooks = set(re.findall(r"^\| `(diffkit_\w+)\(", DOC.read_text(), re.M))
    assert hooks == {name for name in vars(hookspecs) if name.startswith("diffkit_")}  # every hook documented


@pytest.mark.slow
def test_the_walkthrough_runs(tmp_path: Path) -> None:
    site = tmp_path / "site"
    env = cli_env(SITE=str(site), PYTHONPATH=str(site))
    env.pop(AUTOLOAD_ENV, None)
    script = PRELUDE + walkthrough() + '\necho "RUN=$RUN"\n'
    proc = subprocess.run(["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    assert "1 passed" in proc.stdout  # the scaffold's own test
    assert re.search(r"^my-loss 0\.1\.0\n  my_loss\n    loss +my_loss +my_loss\.loss\.MyLossLoss$", proc.stdout, re.M)
    run = Path(re.search(r"^RUN=(.+)$", proc.stdout, re.M).group(1))
    assert "loss:\n  name: my_loss\n  weight: 0.5\n" in (tmp_path / run / "config.yaml").read_text()
    grid = np.asarray(Image.open(tmp_path / "my-run.png"))
    assert grid.ndim >= 2 and grid.std() > 0
    assert list((site).glob("my_loss-0.1.0.dist-info"))
