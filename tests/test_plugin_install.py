"""The example package and four deliberately faulty ones, really pip-installed into a
temporary directory that only this module's subprocesses see (through PYTHONPATH, where
``importlib.metadata`` finds their dist-info), then used from the CLI."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import yaml

from diffkit import checkpoint as ckpt
from diffkit.cli.main import main
from diffkit.plugin_manager import AUTOLOAD_ENV
from tests.conftest import REPO, cli_env, run_cli

pytestmark = pytest.mark.slow

#: tiny runs built only from the example package's components, chosen by name.
EXAMPLE_RUN = [
    "scheduler.name=example_geometric",
    "scheduler.num_timesteps=40",
    "time_embedding.name=example_rbf",
    "time_embedding.dim=8",
    "denoiser.name=example_convnet",
    "denoiser.width=8",
    "denoiser.depth=1",
    "loss.name=example_pseudo_huber",
    "sampler.name=example_strided",
    "sampler.steps=8",
    "data.image_size=8",
    "data.batch_size=16",
    "train.steps=4",
    "train.log_every=2",
    "train.checkpoint_every=2",
    "train.sample_every=0",
    "train.num_samples=4",
    "train.progress=false",
]

BROKEN = {
    # distribution: (module source, registered as entry point "NAME = module")
    "diffkit-broken-import": ("raise RuntimeError('deliberately broken at import')\n", "broken_import"),
    "diffkit-broken-register": (
        """
        from diffkit import hookimpl
        from diffkit_example.pseudo_huber import PseudoHuberLoss

        @hookimpl
        def diffkit_register_components(registry):
            registry.add("loss", "broken_partial", PseudoHuberLoss)
            raise ValueError("deliberately broken in registration")
        """,
        "broken_register",
    ),
    "diffkit-collide": (
        """
        from diffkit import hookimpl
        from diffkit_example.pseudo_huber import PseudoHuberLoss

        @hookimpl
        def diffkit_register_components(registry):
            registry.add("loss", "l1", PseudoHuberLoss)
        """,
        "collide",
    ),
    "diffkit-future": (
        """
        from diffkit import hookimpl
        from diffkit_example.geometric import GeometricScheduler

        DIFFKIT_PLUGIN_API = "2.0"

        @hookimpl
        def diffkit_register_components(registry):
            registry.add("scheduler", "future_geometric", GeometricScheduler)
        """,
        "future",
    ),
}

#: a `-p`/run.plugins module that records every lifecycle hook call in RUN/hooks.jsonl.
HOOK_RECORDER = """
    import json
    import torch
    from diffkit import hookimpl

    def record(run, **fields):
        with (run.dir / "hooks.jsonl").open("a") as f:
            f.write(json.dumps(fields) + "\\n")

    @hookimpl
    def diffkit_run_start(run):
        record(run, hook="run_start", step=run.step)

    @hookimpl
    def diffkit_log(run, step, metrics):
        record(run, hook="log", step=step, keys=sorted(metrics))

    @hookimpl
    def diffkit_images(run, step, tag, images):
        record(run, hook="images", step=step, tag=tag, shape=list(images.shape),
               lo=float(images.min()), hi=float(images.max()))

    @hookimpl
    def diffkit_checkpoint_save(run, state):
        state["hookrec"] = {"step": run.step, "tensor": torch.arange(3) * run.step}
        record(run, hook="checkpoint_save", step=run.step)

    @hookimpl
    def diffkit_checkpoint_load(run, state):
        mine = state["hookrec"]
        record(run, hook="checkpoint_load", step=mine["step"], tensor=mine["tensor"].tolist())

    @hookimpl
    def diffkit_run_end(run, status, metrics):
        record(run, hook="run_end", status=status, step=run.step)
"""


def write_package(root: Path, dist: str, source: str, entry_point: str) -> Path:
    module = dist.replace("-", "_")
    (root / module).mkdir(parents=True)
    (root / module / f"{module}.py").write_text(textwrap.dedent(source))
    (root / module / "pyproject.toml").write_text(
        textwrap.dedent(f"""
        [build-system]
        requires = ["setuptools>=70.1"]
        build-backend = "setuptools.build_meta"

        [project]
        name = "{dist}"
        version = "0.1.0"

        [project.entry-points.diffkit]
        {entry_point} = "{module}"

        [tool.setuptools]
        py-modules = ["{module}"]
    """)
    )
    return root / module


def pip_install(target: Path, *packages: Path) -> None:
    """A real, offline pip install (no dependencies, no isolated build env) into `target`."""
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "-q",
        "--no-deps",
        "--no-build-isolation",
        "--disable-pip-version-check",
        "--no-warn-script-location",
        "--target",
        str(target),
        *map(str, packages),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The target directory holding the five installed distributions."""
    src = tmp_path_factory.mktemp("src")
    example = src / "example"
    shutil.copytree(
        REPO / "plugins" / "example", example, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__")
    )
    broken = [write_package(src, dist, source, ep) for dist, (source, ep) in BROKEN.items()]
    target = tmp_path_factory.mktemp("site")
    pip_install(target, example, *broken)
    (target / "hookrec.py").write_text(textwrap.dedent(HOOK_RECORDER))  # importable, not installed
    return target


@pytest.fixture
def on_path(site: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The installed distributions visible to this process for one test, then forgotten."""
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.delenv(AUTOLOAD_ENV, raising=False)
    yield
    for name, module in list(sys.modules.items()):
        if str(getattr(module, "__file__", None) or "").startswith(str(site)):
            del sys.modules[name]


def env_for(site: Path) -> dict[str, str]:
    env = cli_env(PYTHONPATH=str(site))
    env.pop(AUTOLOAD_ENV, None)
    return env


def test_pip_install_produced_the_entry_points(site: Path) -> None:
    text = (site / "diffkit_example-0.1.0.dist-info" / "entry_points.txt").read_text()
    assert (
        "[diffkit]" in text
        and "example = diffkit_example" in text
        and "example_csv = diffkit_example.csv_logger" in text
    )


def test_plugins_lists_the_example_and_reports_each_broken_one(site: Path) -> None:
    out = run_cli("plugins", env=env_for(site)).stdout
    lines = out.splitlines()
    start = lines.index("diffkit-example 0.1.0")
    assert lines[start + 1 : start + 10] == [
        "  example",
        "    scheduler       example_geometric      diffkit_example.geometric.GeometricScheduler",
        "    scheduler       example_vp_linear      diffkit_example.vp_linear.VPLinearProcess",
        "    time_embedding  example_rbf            diffkit_example.rbf.RBFEmbedding",
        "    denoiser        example_convnet        diffkit_example.convnet.ConvNet",
        "    loss            example_pseudo_huber   diffkit_example.pseudo_huber.PseudoHuberLoss",
        "    sampler         example_strided        diffkit_example.strided.StridedSampler",
        "  example_csv",
        "    hooks: checkpoint_load, checkpoint_save, eval, log",
    ]
    assert (
        "FAILED plugin 'broken_import' from diffkit-broken-import 0.1.0, not loaded: "
        "import failed: RuntimeError: deliberately broken at import"
    ) in lines
    assert (
        "FAILED plugin 'broken_register' from diffkit-broken-register 0.1.0, not loaded: "
        "registration failed: ValueError: deliberately broken in registration"
    ) in lines
    assert (
        "FAILED plugin 'future' from diffkit-future 0.1.0, not loaded: needs diffkit plugin API 2.0, but this "
        "diffkit provides plugin API 1.2 and accepts plugins declaring 1.0 to 1.2; install a diffkit that provides "
        "2.0 or a release of the plugin written for 1.2"
    ) in lines
    assert (
        "CONFLICT loss 'l1' is registered by both plugin 'losses' (diffkit 0.1.0) and plugin 'collide' "
        "(diffkit-collide 0.1.0); naming it in a config is an error until one is uninstalled or blocked with -p no:NAME"
    ) in lines
    assert "broken_partial" not in out and "future_geometric" not in out


def test_kind_filter_and_blocking_from_the_command_line(on_path: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plugins", "--kind", "scheduler", "-p", "no:diffkit-broken-import"]) == 0
    out = capsys.readouterr().out
    assert "    scheduler       example_geometric      diffkit_example.geometric.GeometricScheduler" in out
    assert "example_rbf" not in out and "example_csv" not in out and "CONFLICT" not in out  # a loss conflict
    assert "FAILED plugin 'broken_import'" not in out and "FAILED plugin 'broken_register'" in out
    assert (
        "BLOCKED plugin 'broken_import' from diffkit-broken-import 0.1.0, not loaded: -p no:diffkit-broken-import"
        in out
    )


def test_a_conflicting_name_in_a_config_is_an_error_naming_both(
    on_path: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["train", *EXAMPLE_RUN, "loss.name=l1", f"run.dir={tmp_path / 'run'}"]) == 2
    assert (
        "diffkit: error: loss 'l1' is registered by both plugin 'losses' (diffkit 0.1.0) and plugin 'collide' "
        "(diffkit-collide 0.1.0)"
    ) in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_train_resume_and_sample_with_the_example_components(site: Path, tmp_path: Path) -> None:
    env, run = env_for(site), tmp_path / "run"
    proc = run_cli("train", *EXAMPLE_RUN, "run.plugins=[hookrec]", f"run.dir={run}", env=env)
    assert proc.stdout.strip() == str(run)
    for dist in ("diffkit-broken-import", "diffkit-broken-register", "diffkit-future", "diffkit-collide"):
        assert dist in proc.stderr  # one warning each; the run goes on
    saved = yaml.safe_load((run / "config.yaml").read_text())
    assert [saved[k]["name"] for k in ("scheduler", "time_embedding", "denoiser", "loss", "sampler")] == [
        "example_geometric",
        "example_rbf",
        "example_convnet",
        "example_pseudo_huber",
        "example_strided",
    ]
    calls = [json.loads(line) for line in (run / "hooks.jsonl").read_text().splitlines()]
    assert [(c["hook"], c["step"]) for c in calls] == [
        ("run_start", 0),
        ("images", 0),
        ("log", 2),
        ("checkpoint_save", 2),
        ("log", 4),
        ("checkpoint_save", 4),
        ("images", 4),
        ("run_end", 4),
    ]
    strip, samples = calls[1], calls[6]
    assert (strip["tag"], strip["shape"], samples["tag"], samples["shape"]) == (
        "forward_process",
        [10, 1, 8, 8],
        "samples",
        [4, 1, 8, 8],
    )
    assert 0 <= samples["lo"] <= samples["hi"] <= 1 and "train/loss" in calls[2]["keys"]
    assert calls[-1]["status"] == "completed"
    state = ckpt.load(run / "checkpoints" / "last.pt")["plugins"]
    assert state["hookrec"]["tensor"].tolist() == [0, 4, 8] and state["example_csv"] == {"step": 4}

    # rows logged after the last checkpoint (as after a crash) vanish on resume
    with (run / "metrics.csv").open("a") as f:
        f.write("5,train/loss,123.0\n")
    run_cli("train", "--resume", str(run), "train.steps=6", env=env)
    resumed = [json.loads(line) for line in (run / "hooks.jsonl").read_text().splitlines()][len(calls) :]
    assert resumed[0] == {"hook": "checkpoint_load", "step": 4, "tensor": [0, 4, 8]}
    assert [(c["hook"], c["step"]) for c in resumed[1:3]] == [("run_start", 4), ("log", 6)]
    rows = (run / "metrics.csv").read_text().splitlines()
    assert rows[0] == "step,name,value"
    steps = [int(r.split(",")[0]) for r in rows[1:] if ",train/loss," in r]
    assert steps == [2, 4, 6]

    out = tmp_path / "samples.npz"
    proc = run_cli("sample", str(run), "--num", "3", "--steps", "5", "--out", str(out), env=env)
    assert "sampler example_strided" in proc.stderr
    images = np.load(out)["arr_0"]
    assert images.shape == (3, 8, 8, 1) and images.dtype == np.uint8 and images.std() > 0
