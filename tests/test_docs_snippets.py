"""Every code block in ``docs/**/*.md`` and ``README.md`` runs, so the docs cannot rot.

Each page runs in its own temporary directory (with ``configs/`` linked in), its
blocks in order, sharing one Python namespace like a notebook:

- ``bash``: run. A block of plain ``diffkit ...`` commands runs in-process (fast);
  anything else runs under ``bash -euo pipefail``.
- ``python``: executed; its ``assert``s are the checks.
- ``yaml``: composed and validated as a config file; ``toml``/``json``: parsed.
- ``text`` and other languages: shown output, not run.

An HTML comment right before a block changes that:

- ``<!-- not-run: REASON -->`` skips it (a reason is required);
- ``<!-- check-only: REASON -->`` checks commands without running them: ``diffkit``
  commands are parsed by the real parser, ``train``/``config`` arguments are composed,
  validated and built into components; other programs must exist;
- ``<!-- file: PATH -->`` writes the block to PATH in the page's directory;
- ``<!-- exit: N -->`` expects every ``diffkit`` command of the block to exit with N;
- ``<!-- output: WHAT -->`` on a ``text`` block: each of its lines must appear in the
  output (stdout and stderr) of the shell block before it.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import tomllib

from diffkit.api import compose
from diffkit.cli.common import split_config_and_overrides
from diffkit.cli.main import build_parser, main
from diffkit.config import validate
from diffkit.runner.build import build_components

REPO = Path(__file__).resolve().parents[1]
PAGES = sorted((REPO / "docs").rglob("*.md")) + [REPO / "README.md"]
FENCE = re.compile(r"^(?P<indent>[ \t]*)```(?P<lang>[\w+-]*)[^\n]*\n(?P<body>.*?)^(?P=indent)```[ \t]*$", re.S | re.M)
MARKER = re.compile(r"<!--\s*(?P<kind>[\w-]+)\s*:\s*(?P<value>.*?)\s*-->\s*$", re.S)
KNOWN_MARKERS = {"not-run", "check-only", "file", "exit", "output"}
SHELL = {"bash", "sh", "shell"}
NOT_CODE = {"text", "console", "output", "ini", "diff", "mermaid"}
ENV_ASSIGN = re.compile(r"[A-Z_][A-Z0-9_]*=\S*")
PROGRAMS = ("diffkit", "pip", "python", "torchrun", "tensorboard", "mkdocs", "srun", "sbatch")
OPERATORS = {"&&", "||", ";", "|", "&", ">", ">>", "<", "(", ")"}
#: pages whose blocks another test runs (it installs packages, so it runs them once, its way).
DELEGATED = {"docs/writing-a-plugin.md": "tests/test_plugin_docs.py"}


@dataclass
class Block:
    page: Path
    line: int
    lang: str
    body: str
    markers: dict[str, str] = field(default_factory=dict)

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(REPO)}:{self.line}"


def blocks(page: Path) -> list[Block]:
    """The fenced blocks of `page` with the markers written right before each."""
    text = page.read_text()
    out = []
    for m in FENCE.finditer(text):
        before = text[: m.start()].rstrip()
        markers = {}
        while before.endswith("-->"):
            start = before.rfind("<!--")
            mk = MARKER.fullmatch(before[start:]) if start >= 0 else None
            if mk is None:
                break
            markers[mk["kind"]] = mk["value"]
            before = before[:start].rstrip()
        line = text.count("\n", 0, m.start()) + 1
        out.append(Block(page, line, m["lang"].lower(), textwrap.dedent(m["body"]), markers))
    return out


def commands(body: str) -> list[list[str]]:
    """Shell text -> commands (argv lists), split at operators; comments dropped."""
    out: list[list[str]] = []
    for line in body.replace("\\\n", " ").splitlines():
        lex = shlex.shlex(line, posix=True, punctuation_chars=True)
        lex.whitespace_split, lex.commenters = True, "#"
        current: list[str] = []
        redirect = False
        for token in lex:
            if token in (">", ">>", "<"):
                if current and current[-1].isdigit():
                    current.pop()  # 2> file
                redirect = True
            elif token in OPERATORS:
                out.append(current)
                current = []
            elif redirect:
                redirect = False  # the file name, not an argument
            else:
                current.append(token)
        out.append(current)
    return [c for c in out if c]


def run_diffkit(argv: list[str], where: str) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else 1
    return code, f"{where}: `diffkit {shlex.join(argv)}`\nstdout:\n{out.getvalue()}\nstderr:\n{err.getvalue()}"


def check_config(items: list[str], cli_plugins: list[str]) -> None:
    """Compose, validate and build what `diffkit train ITEMS` would train."""
    config, overrides = split_config_and_overrides(items)
    with contextlib.redirect_stderr(io.StringIO()):
        composed = compose(config, overrides, plugins=cli_plugins)
    validate(composed.composed)
    build_components(composed.plugins.registry, composed.cfg, in_channels=1)


def as_diffkit(argv: list[str]) -> list[str]:
    """``[VAR=1] (torchrun ... | python) -m diffkit ARGS`` -> ``diffkit ARGS``; others unchanged."""
    while argv and ENV_ASSIGN.fullmatch(argv[0]):
        argv = argv[1:]
    if argv and argv[0] in ("torchrun", "python", "python3") and "-m" in argv:
        i = argv.index("-m")
        if argv[i + 1 : i + 2] == ["diffkit"]:
            return ["diffkit", *argv[i + 2 :]]
    return argv


def check_command(argv: list[str], where: str) -> None:
    """Check a command without running it (``check-only``)."""
    argv = as_diffkit(argv)
    if argv[0] == "diffkit":
        try:
            args = build_parser().parse_args(argv[1:])
        except SystemExit:
            pytest.fail(f"{where}: `{shlex.join(argv)}` does not parse")
        if args.command in ("train", "config") and not getattr(args, "resume", None):
            check_config(args.items, args.plugins)
    elif argv[:2] == ["python", "-m"]:
        assert importlib.util.find_spec(argv[2]) is not None, f"{where}: no module {argv[2]}"
    elif argv[0] not in ("cd", "export", "source"):
        assert shutil.which(argv[0]), f"{where}: `{argv[0]}` is not on PATH"


def run_block(block: Block, ns: dict, cwd: Path) -> None:
    where, m = block.where, block.markers
    unknown = set(m) - KNOWN_MARKERS
    assert not unknown, f"{where}: unknown marker(s) {unknown}; use one of {sorted(KNOWN_MARKERS)}"
    if "not-run" in m:
        assert m["not-run"], f"{where}: `not-run` needs a reason"
        return
    if "file" in m:
        path = cwd / m["file"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(block.body)
        return
    lang = block.lang
    if not lang:
        first = block.body.split(maxsplit=1)[:1]
        assert not first or first[0] not in PROGRAMS, f"{where}: a command in a block without a language; use ```bash"
        lang = "text"
    if "output" in m:
        shown = ns.get("__shell_output__", "")
        for line in filter(None, (x.strip() for x in block.body.splitlines())):
            assert line in shown, f"{where}: {line!r} is not in the output of the command above:\n{shown}"
        return
    if "check-only" in m:
        assert m["check-only"], f"{where}: `check-only` needs a reason"
        assert lang in SHELL, f"{where}: check-only applies to shell blocks"
        for argv in commands(block.body):
            check_command(argv, where)
    elif lang in SHELL:
        ns["__shell_output__"] = run_shell(block, cwd)
    elif lang in ("python", "py"):
        exec(compile(block.body, where, "exec"), ns)  # noqa: S102 - running the docs is the point
    elif lang in ("yaml", "yml"):
        path = cwd / "_snippet.yaml"
        path.write_text(block.body)
        check_config([str(path)], [])
    elif lang == "toml":
        tomllib.loads(block.body)
    elif lang == "json":
        json.loads(block.body)
    else:
        assert lang in NOT_CODE, f"{where}: unknown code-block language {lang!r}"


def run_shell(block: Block, cwd: Path) -> str:
    """Run a shell block; return its stdout and stderr."""
    expected = int(block.markers.get("exit", 0))
    cmds = commands(block.body)
    plain = all(c[0] == "diffkit" for c in cmds) and not any(op in block.body for op in ("&&", "|", ">", "$"))
    if plain:
        logs = []
        for argv in cmds:
            code, log = run_diffkit(argv[1:], block.where)
            assert code == expected, f"exit {code}, expected {expected}\n{log}"
            logs.append(log)
        return "\n".join(logs)
    env = dict(os.environ, OMP_NUM_THREADS="1", PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    proc = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", block.body], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == expected, (
        f"{block.where}: exit {proc.returncode} (a block that cannot run in a test needs "
        f"<!-- check-only: REASON --> or <!-- not-run: REASON -->)\n{proc.stdout}\n{proc.stderr}"
    )
    return proc.stdout + proc.stderr


@pytest.mark.slow
@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_page_snippets_run(page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    delegate = DELEGATED.get(page.relative_to(REPO).as_posix())
    if delegate:
        path = REPO / delegate
        assert path.is_file() and page.name in path.read_text(), f"{delegate} should run the blocks of {page.name}"
        return
    (tmp_path / "configs").symlink_to(REPO / "configs")
    monkeypatch.chdir(tmp_path)
    ns: dict = {"__name__": "__docs__"}
    for block in blocks(page):
        run_block(block, ns, tmp_path)


def test_extraction_finds_blocks_and_markers(tmp_path: Path) -> None:
    page = tmp_path / "p.md"
    page.write_text(
        "Text.\n\n<!-- not-run: needs a GPU -->\n```bash\ndiffkit train x=1\n```\n\n"
        "```python\nx = 1\n```\n\n    ```yaml\n    a: 1\n    ```\n"
    )
    found = blocks(page)
    assert [(b.lang, b.markers) for b in found] == [("bash", {"not-run": "needs a GPU"}), ("python", {}), ("yaml", {})]
    assert found[2].body == "a: 1\n" and found[1].line == 8
    assert commands("a && b c # note\nd \\\n  e | f") == [["a"], ["b", "c"], ["d", "e"], ["f"]]
    assert commands("a x > out.csv 2> err.log && b < in.txt") == [["a", "x"], ["b"]]
    cmd = commands("OMP_NUM_THREADS=1 torchrun --nproc_per_node=2 -m diffkit train x=1")[0]
    assert as_diffkit(cmd) == ["diffkit", "train", "x=1"]


def test_a_renamed_key_or_option_fails(tmp_path: Path) -> None:
    """The checks that keep the docs honest do fail on stale text."""
    with pytest.raises(Exception, match="unknown key"):
        check_config(["train.stepz=5"], [])
    with pytest.raises(pytest.fail.Exception, match="does not parse"):
        check_command(["diffkit", "sample", "runs/x", "--number", "4", "--out", "a.png"], "page.md:1")
    with pytest.raises(AssertionError, match="not on PATH"):
        check_command(["no-such-program-xyz"], "page.md:1")
