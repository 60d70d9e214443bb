"""The documentation site builds with ``mkdocs build --strict``: no broken link, anchor,
image or nav entry."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_mkdocs_build_strict(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-d", str(tmp_path / "site")],
        cwd=REPO, capture_output=True, text=True, timeout=300, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    page = (tmp_path / "site" / "concepts" / "forward-process" / "index.html").read_text()
    assert 'class="arithmatex"' in page and "forward_process.png" in page
    assert (tmp_path / "site" / "reference" / "config" / "index.html").is_file()
