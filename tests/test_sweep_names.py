"""Run names of a sweep: short names from the grid values, ``name:`` templates, safe and
unique directory names, and sweeps whose runs have the long names of older versions."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from diffkit.cli.main import main
from diffkit.errors import ConfigError
from diffkit.sweep import load_sweep


def sweep_file(tmp_path: Path, grid: dict, **extra) -> Path:
    path = tmp_path / "abl.yaml"
    path.write_text(yaml.safe_dump({"grid": grid, "dir": str(tmp_path / "out"), **extra}, sort_keys=False))
    return path


def names(path: Path) -> list[str]:
    return [r.name for r in load_sweep(path).runs]


def test_short_names_are_the_grid_values_with_prefixes_for_numbers(tmp_path: Path):
    grid = {
        "loss.name": ["l1", "l2"],
        "scheduler.num_timesteps": [300],
        "optim.lr": [0.001],
        "sampler.clip_sample": [True, False],
        "seed": [0],
    }
    assert names(sweep_file(tmp_path, grid)) == [
        "l1-T300-lr0.001-clip_sample-s0",
        "l1-T300-lr0.001-no-clip_sample-s0",
        "l2-T300-lr0.001-clip_sample-s0",
        "l2-T300-lr0.001-no-clip_sample-s0",
    ]
    assert names(sweep_file(tmp_path, {"denoiser.channels": [[8, 16], [16, 32]]})) == [
        "channels_8,16",
        "channels_16,32",
    ]


def test_a_name_template_fills_grid_and_override_keys_with_formats(tmp_path: Path):
    path = sweep_file(
        tmp_path,
        {"loss.name": ["l1", "l2"], "optim.lr": [0.001, 0.0002]},
        overrides={"scheduler.name": "cosine"},
        name="{loss.name}-{scheduler.name}-lr{optim.lr:.0e}",
    )
    assert names(path) == ["l1-cosine-lr1e-03", "l1-cosine-lr2e-04", "l2-cosine-lr1e-03", "l2-cosine-lr2e-04"]
    assert names(sweep_file(tmp_path, {"loss.name": ["a/b", "a c"]}, name="../{loss.name}")) == ["a_b", "a_c"]


def test_template_errors_name_the_problem(tmp_path: Path):
    with pytest.raises(
        ConfigError,
        match=r"uses \{loss\.nme\}, which is not a grid or override key; "
        r"did you mean 'loss\.name'\?",
    ):
        load_sweep(sweep_file(tmp_path, {"loss.name": ["l1", "l2"]}, name="{loss.nme}"))
    with pytest.raises(
        ConfigError, match="two runs would share the directory 'run'; add the keys that tell them apart to name"
    ):
        load_sweep(sweep_file(tmp_path, {"loss.name": ["l1", "l2"]}, name="run"))
    with pytest.raises(ConfigError, match="may not be named 'logs'"):
        load_sweep(sweep_file(tmp_path, {"loss.name": ["l1"]}, name="logs"))
    with pytest.raises(ConfigError, match="name must be a text template"):
        load_sweep(sweep_file(tmp_path, {"loss.name": ["l1"]}, name=3))


def test_names_are_one_safe_directory_each(tmp_path: Path):
    assert names(sweep_file(tmp_path, {"data.root": ["/data/a b", "../x", "c"]})) == ["data_a_b", "x", "c"]
    # short names that clash fall back to the long key=value names ...
    assert names(sweep_file(tmp_path, {"a.x": [1, "x1"], "b": [0]})) == ["a.x=1,b=0", "a.x=x1,b=0"]
    # ... and where those clash too, the sweep is refused before anything runs
    with pytest.raises(ConfigError, match="two runs would share the directory 'data.root=a_b'"):
        load_sweep(sweep_file(tmp_path, {"data.root": ["a/b", "a b"]}))
    assert len(names(sweep_file(tmp_path, {"loss.name": ["x" * 300]}))[0]) == 120


def test_a_sweep_with_long_run_names_keeps_its_directories_and_says_so(tmp_path: Path, capsys):
    path = sweep_file(tmp_path, {"loss.name": ["l1", "l2"], "seed": [0]})
    old = tmp_path / "out" / "loss.name=l1,seed=0"
    old.mkdir(parents=True)
    (old / "config.yaml").write_text("seed: 0\n")
    (old / "status.json").write_text('{"status": "completed"}')
    sweep = load_sweep(path)
    assert [(r.name, r.legacy) for r in sweep.runs] == [("loss.name=l1,seed=0", True), ("l2-s0", False)]
    assert "1 of 2 runs keep their directories from before short run names" in capsys.readouterr().err
    assert main(["sweep", str(path), "--dry-run"]) == 0
    plan = [line.split()[:2] for line in capsys.readouterr().out.splitlines()[1:]]
    assert plan == [["skip", "loss.name=l1,seed=0"], ["start", "l2-s0"]]  # not started again
