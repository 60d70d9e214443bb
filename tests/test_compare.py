"""``diffkit compare``: differing hyperparameters and final metrics of runs and sweeps."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
import yaml

from diffkit.cli.main import main
from tests.conftest import run_cli


def make_run(path: Path, loss: str, seed: int, fid: float | None, status: str = "completed") -> Path:
    path.mkdir(parents=True)
    config = {"seed": seed, "run": {"dir": str(path)}, "loss": {"name": loss}, "train": {"steps": 100}}
    (path / "config.yaml").write_text(yaml.safe_dump(config))
    (path / "status.json").write_text(json.dumps({"status": status, "step": 100}))
    if fid is not None:
        (path / "metrics.json").write_text(json.dumps({"train/loss": 0.1 * (seed + 1), "eval/fid": fid, "step": 100}))
    return path


@pytest.fixture
def sweep(tmp_path: Path) -> Path:
    make_run(tmp_path / "sw" / "loss.name=l1,seed=0", "l1", 0, 30.0)
    make_run(tmp_path / "sw" / "loss.name=l1,seed=1", "l1", 1, 10.0)
    make_run(tmp_path / "sw" / "loss.name=l2,seed=0", "l2", 0, 20.0)
    make_run(tmp_path / "sw" / "loss.name=l2,seed=1", "l2", 1, None, status="failed")
    (tmp_path / "sw" / "logs").mkdir()
    return tmp_path / "sw"


def test_markdown_table_shows_only_differing_hparams_sorted_by_a_metric(sweep: Path):
    out = run_cli("compare", str(sweep), "--sort", "eval/fid").stdout.strip().splitlines()
    assert [c.strip() for c in out[0].split("|")[1:-1]] == [
        "run", "status", "loss.name", "seed", "step", "eval/fid", "train/loss"]
    runs = [line.split("|")[1].strip() for line in out[2:]]
    assert runs == ["loss.name=l1,seed=1", "loss.name=l2,seed=0", "loss.name=l1,seed=0", "loss.name=l2,seed=1"]
    assert "train.steps" not in out[0] and "run.dir" not in out[0]
    assert out[-1].split("|")[2].strip() == "failed"


def test_csv_and_json_formats_and_descending_sort(sweep: Path, capsys):
    assert main(["compare", str(sweep), "--format", "csv", "--sort", "eval/fid", "--descending"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [float(r["eval/fid"]) for r in rows[:3]] == [30.0, 20.0, 10.0] and rows[3]["eval/fid"] == ""
    assert main(["compare", str(sweep / "loss.name=l1,seed=0"), str(sweep / "loss.name=l2,seed=0"),
                 "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["run"], r["loss.name"], r["eval/fid"]) for r in rows] == [
        ("loss.name=l1,seed=0", "l1", 30.0), ("loss.name=l2,seed=0", "l2", 20.0)]
    assert "seed" not in rows[0]  # equal in both


def test_unknown_sort_column_and_empty_dirs_are_one_line_errors(sweep: Path, tmp_path: Path, capsys):
    assert main(["compare", str(sweep), "--sort", "eval/fd"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("diffkit: error: --sort 'eval/fd' is not a column; did you mean 'eval/fid'")
    (tmp_path / "empty").mkdir()
    assert main(["compare", str(tmp_path / "empty")]) == 2
    assert "no runs (directories with config.yaml) under" in capsys.readouterr().err
