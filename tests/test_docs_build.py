"""The documentation site builds with ``mkdocs build --strict``: no broken link, anchor,
image or nav entry, and no warning of any kind (the build's log is read, not silenced)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_mkdocs_build_strict(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(tmp_path / "site")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log
    warnings = [ln for ln in log.splitlines() if re.match(r"\s*(WARNING|ERROR)\b", ln)]
    assert not warnings, "\n".join(warnings)
    assert "Documentation built" in log  # the log was really read
    # docstrings are Markdown: no raw Sphinx role (:meth:`x`, :class:`x`) reaches a page
    for html in (tmp_path / "site").rglob("*.html"):
        roles = re.findall(r":(?:meth|class|func|mod|data|attr|obj):`", html.read_text())
        assert not roles, f"{html.relative_to(tmp_path)}: raw Sphinx roles {roles}"
    page = (tmp_path / "site" / "concepts" / "forward-process" / "index.html").read_text()
    assert 'class="arithmatex"' in page and "forward_process.png" in page
    assert (tmp_path / "site" / "reference" / "config" / "index.html").is_file()
    # maths renders offline: MathJax and its fonts are part of the site, nothing from a CDN
    assert "javascripts/mathjax/tex-chtml.js" in page and "unpkg.com" not in page and "cdn" not in page.lower()
    assert "fonts.googleapis.com" not in page  # nor fonts
    fonts = tmp_path / "site" / "javascripts" / "mathjax" / "output" / "chtml" / "fonts" / "woff-v2"
    assert (tmp_path / "site" / "javascripts" / "mathjax" / "tex-chtml.js").is_file() and any(fonts.glob("*.woff"))
    # placeholders are text, not swallowed as HTML tags
    assert (
        "runs/&lt;time&gt;-&lt;config name&gt;"
        in (tmp_path / "site" / "reference" / "config" / "index.html").read_text()
    )
    # the plugin API is rendered by mkdocstrings from the code: every kind's base and every hook
    api = (tmp_path / "site" / "reference" / "plugin-api" / "index.html").read_text()
    for name in ("Scheduler", "TimeEmbedding", "Denoiser", "Loss", "Sampler", "Dataset", "Metric"):
        assert 'id="diffkit.interfaces.' in api and f'.{name}"' in api
    hooks = (tmp_path / "site" / "reference" / "hooks" / "index.html").read_text()
    for hook in (
        "register_components",
        "run_start",
        "log",
        "images",
        "checkpoint_save",
        "checkpoint_load",
        "eval",
        "run_end",
    ):
        assert f'id="diffkit.hookspecs.diffkit_{hook}"' in hooks
