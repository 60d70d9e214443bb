"""The package of docs/writing-a-plugin.md, written only from its ``<!-- file: -->``
blocks (which follow the generated plugin API reference), really pip-installed; one
component of every kind and a tracker used by name in a tiny run, evaluated, resumed."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
import yaml

from diffkit import checkpoint as ckpt
from diffkit.cli.main import main
from diffkit.interfaces import KINDS
from diffkit.plugin_manager import AUTOLOAD_ENV
from tests.conftest import REPO
from tests.test_plugin_install import pip_install

pytestmark = pytest.mark.slow

DOC = REPO / "docs" / "writing-a-plugin.md"
FILE_BLOCK = re.compile(r"^<!-- file: (?P<path>\S+) -->\n```\w+\n(?P<body>.*?)^```", re.M | re.S)
NAMES = {
    "scheduler": "my_quadratic",
    "time_embedding": "my_octaves",
    "denoiser": "my_tiny",
    "loss": "my_logcosh",
    "sampler": "my_euler",
    "dataset": "my_blobs",
    "metric": "my_mean_gap",
    "launcher": "my_in_process",
    "ema": "my_running_mean",
}
RUN = [
    "scheduler.name=my_quadratic",
    "scheduler.num_timesteps=20",
    "time_embedding.name=my_octaves",
    "time_embedding.dim=8",
    "denoiser.name=my_tiny",
    "loss.name=my_logcosh",
    "sampler.name=my_euler",
    "sampler.steps=4",
    "data.name=my_blobs",
    "data.image_size=8",
    "data.batch_size=16",
    "eval.metrics=[my_mean_gap]",
    "eval.num_samples=8",
    "eval.batch_size=8",
    "train.steps=4",
    "train.log_every=2",
    "train.checkpoint_every=2",
    "train.sample_every=0",
    "train.num_samples=4",
    "train.progress=false",
    "ema.name=my_running_mean",
    "-p",
    "no:tensorboard",
]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    src = tmp_path_factory.mktemp("src")
    for m in FILE_BLOCK.finditer(DOC.read_text()):
        path = src / m["path"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(m["body"])
    target = tmp_path_factory.mktemp("site")
    pip_install(target, src / "my-kinds")
    return target


@pytest.fixture
def on_path(site: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.delenv(AUTOLOAD_ENV, raising=False)
    yield
    for name in [n for n in sys.modules if n == "my_kinds" or n.startswith("my_kinds.")]:
        del sys.modules[name]


def test_the_documented_package_covers_every_kind(on_path: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert set(NAMES) == set(KINDS)
    assert main(["plugins"]) == 0
    out = capsys.readouterr().out
    assert "my-kinds 0.1.0\n  my_kinds\n" in out and "  my_kinds_tracker\n    hooks: checkpoint_load," in out
    for kind, name in NAMES.items():
        assert re.search(rf"^    {kind} +{name} +my_kinds\.", out, re.M), (kind, name)


def test_each_kind_by_name_in_a_run_evaluated_and_resumed(
    on_path: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "run"
    assert main(["train", *RUN, f"run.dir={run}"]) == 0
    saved = yaml.safe_load((run / "config.yaml").read_text())
    sections = {
        "scheduler": "scheduler",
        "time_embedding": "time_embedding",
        "denoiser": "denoiser",
        "loss": "loss",
        "sampler": "sampler",
        "dataset": "data",
    }
    assert {k: saved[s]["name"] for k, s in sections.items()} == {k: NAMES[k] for k in sections}
    rows = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [2, 4, 4] and "train/loss" in rows[0]
    assert 0 <= rows[-1]["eval/mean_gap"] < 2  # images in [-1, 1]
    state = ckpt.load(run / "checkpoints" / "last.pt")["plugins"]
    assert state["my_tracker"] == {"step": 4} and state["_versions"]["my_kinds_tracker"] == 1
    assert ckpt.load(run / "checkpoints" / "last.pt")["ema"]["count"] == 4

    assert main(["train", "--resume", str(run), "train.steps=6"]) == 0
    rows = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [2, 4, 4, 6, 6]  # the first evaluation survived the resume

    # a state from a newer release of the tracker: its load hook refuses it, named in one line
    for path in (run / "checkpoints").glob("*.pt"):
        data = ckpt.load(path)
        data["plugins"]["_versions"]["my_kinds_tracker"] = 9
        torch.save(data, path)
    capsys.readouterr()
    assert main(["train", "--resume", str(run), "train.steps=8"]) == 1
    errors = [line for line in capsys.readouterr().err.splitlines() if not line.startswith("diffkit: warning:")]
    assert errors == [
        "diffkit: error: plugin 'my_kinds_tracker' from my-kinds 0.1.0 failed in diffkit_checkpoint_load: "
        "ValueError: state version 9 is newer than 1; upgrade my-kinds "
        "(full traceback: --traceback or DIFFKIT_TRACEBACK=1)"
    ]


def test_the_launcher_by_name_in_a_sweep_file(on_path: None, tmp_path: Path) -> None:
    sweep = tmp_path / "sweep.yaml"
    overrides = dict(a.split("=", 1) for a in RUN if "=" in a and not a.startswith("eval."))
    sweep.write_text(
        yaml.safe_dump(
            {
                "overrides": {k: yaml.safe_load(v) for k, v in overrides.items()},
                "grid": {"seed": [0, 1]},
                "dir": str(tmp_path / "sweep"),
                "launcher": {"name": "my_in_process"},
            }
        )
    )
    assert main(["sweep", str(sweep), "-p", "no:tensorboard"]) == 0
    summary = json.loads((tmp_path / "sweep" / "sweep.json").read_text())
    assert [r["status"] for r in summary["runs"]] == ["completed", "completed"]
    assert summary["launcher"]["name"] == "my_in_process"
