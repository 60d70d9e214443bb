"""``diffkit compare``: differing hyperparameters and final metrics of runs and sweeps,
groups of seeds with mean, std, n and the within-noise letters, and the table in TensorBoard."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
import yaml

from diffkit.cli.main import main
from tests.conftest import run_cli


def make_run(path: Path, loss: str, seed: int, fid: float | None, status: str = "completed", **extra) -> Path:
    path.mkdir(parents=True)
    config = {"seed": seed, "run": {"dir": str(path)}, "loss": {"name": loss}, "train": {"steps": 100},
              **extra.pop("config", {})}
    (path / "config.yaml").write_text(yaml.safe_dump(config))
    (path / "status.json").write_text(json.dumps({"status": status, "step": 100}))
    if fid is not None:
        metrics = {"train/loss": 0.1 * (seed + 1), "eval/fid": fid, "step": 100, **extra}
        (path / "metrics.json").write_text(json.dumps(metrics))
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
    out = run_cli("compare", str(sweep), "--runs", "--sort", "eval/fid").stdout.strip().splitlines()
    assert [c.strip() for c in out[0].split("|")[1:-1]] == [
        "run", "status", "loss.name", "seed", "eval/fid", "train/loss"]  # step: the same in every run
    runs = [line.split("|")[1].strip() for line in out[2:]]
    assert runs == ["loss.name=l1,seed=1", "loss.name=l2,seed=0", "loss.name=l1,seed=0", "loss.name=l2,seed=1"]
    assert "train.steps" not in out[0] and "run.dir" not in out[0]
    assert out[-1].split("|")[2].strip() == "failed"


def test_csv_and_json_formats_and_descending_sort(sweep: Path, capsys):
    assert main(["compare", str(sweep), "--runs", "--format", "csv", "--sort", "eval/fid", "--descending"]) == 0
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


#: three seeds per loss; by hand: l1 mean 12, std 2; l1b mean 13, std 2; l2 mean 31, std 1.
FIDS = {"l1": [10.0, 12.0, 14.0], "l1b": [11.0, 13.0, 15.0], "l2": [30.0, 31.0, 32.0]}


@pytest.fixture
def seeds(tmp_path: Path) -> Path:
    for loss, fids in FIDS.items():
        for seed, fid in enumerate(fids):
            make_run(tmp_path / "sw" / f"{loss}-s{seed}", loss, seed, fid, **{"eval/num_samples": 300})
    return tmp_path / "sw"


def test_runs_differing_only_in_seed_are_grouped_with_mean_std_n_and_noise_letters(seeds: Path, capsys):
    assert main(["compare", str(seeds), "--format", "json"]) == 0
    rows = {r["loss.name"]: r for r in json.loads(capsys.readouterr().out)}
    assert set(rows) == {"l1", "l1b", "l2"} and "seed" not in rows["l1"] and rows["l1"]["runs"] == 3
    got = {k: (r["eval/fid"], r["eval/fid_std"], r["eval/fid_n"]) for k, r in rows.items()}
    assert got == {"l1": (12.0, 2.0, 3), "l1b": (13.0, 2.0, 3), "l2": (31.0, 1.0, 3)}
    # l1 vs l1b: |12 - 13| = 1 <= 2 * sqrt(4/3 + 4/3) = 3.27, within noise: one letter;
    # l1 vs l2: 19 > 2 * sqrt(4/3 + 1/3) = 2.58, a real difference: another letter.
    assert {k: r["eval/fid_group"] for k, r in rows.items()} == {"l1": "a", "l1b": "a", "l2": "b"}
    assert main(["compare", str(seeds), "--sort", "eval/fid"]) == 0
    out = capsys.readouterr().out
    table, legend = out.split("\n\n")
    assert [line.split("|")[4].strip() for line in table.splitlines()[2:]] == [
        "12 ± 2 (3) a", "13 ± 2 (3) a", "31 ± 1 (3) b"]
    assert "2 × sqrt(std₁²/n₁ + std₂²/n₂)" in legend and "within noise" in legend


@pytest.mark.parametrize("factor, expected", [(2.0, ["a", "ab", "b"]), (1.0, ["a", "b", "c"]), (4.0, ["a"] * 3)])
def test_noise_letters_are_a_compact_letter_display(factor: float, expected: list[str], monkeypatch):
    """A ~ B and B ~ C but not A ~ C gives a, ab, b; the factor 2 is what decides it
    (mutants with 1 or 4 standard errors give other letters)."""
    from diffkit.sweep import spread as sp

    def within(a: sp.Spread, b: sp.Spread) -> bool:
        return abs(a.mean - b.mean) <= factor * ((a.std**2 / a.n + b.std**2 / b.n) ** 0.5)

    monkeypatch.setattr(sp, "within_noise", within)
    groups = [sp.Spread(0.0, 1.0, 4), sp.Spread(1.2, 1.0, 4), sp.Spread(2.4, 1.0, 4)]  # 2 SE = 1.41
    assert sp.letters(groups, direction=-1) == expected
    assert sp.letters(groups[::-1], direction=-1) == expected[::-1]  # 'a' holds the lowest mean
    assert sp.letters([None, sp.Spread(5.0, None, 1)], direction=-1) == ["-", "-"]  # no spread, no letter


def test_by_chooses_the_grouping_and_a_setting_is_not_shown_next_to_its_result(tmp_path: Path, capsys):
    for i, (lr, samples) in enumerate([(0.1, 200), (0.2, 200), (0.1, 300), (0.2, 300)]):
        make_run(tmp_path / "sw" / f"r{i}", "l2", 0, 10.0 + i, config={"optim": {"lr": lr}, "eval": {"num_samples": samples}},
                 **{"eval/num_samples": samples})
    assert main(["compare", str(tmp_path / "sw"), "--runs"]) == 0
    header = [c.strip() for c in capsys.readouterr().out.splitlines()[0].split("|")[1:-1]]
    assert header == ["run", "status", "optim.lr", "eval/num_samples", "eval/fid", "train/loss"]
    assert main(["compare", str(tmp_path / "sw"), "--by", "optim.lr", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["optim.lr"], r["runs"], r["eval/fid"], r["eval/num_samples"]) for r in rows] == [
        (0.1, 2, 11.0, "mixed"), (0.2, 2, 12.0, "mixed")]
    assert main(["compare", str(tmp_path / "sw"), "--by", "optim.lrr"]) == 2
    assert capsys.readouterr().err.strip() == (
        "diffkit: error: --by 'optim.lrr' is not a hyperparameter of these runs; did you mean 'optim.lr'? "
        "see diffkit compare --all for every key")
    assert main(["compare", str(tmp_path / "sw"), "--all", "--by", "optim.lr"]) == 2
    assert "--all shows one row per run; --by groups them" in capsys.readouterr().err


def test_the_table_goes_to_tensorboards_text_dashboard(seeds: Path, capsys):
    from tensorboard.backend.event_processing import plugin_event_accumulator

    from tensorboard.backend.event_processing import plugin_event_multiplexer

    for _ in range(2):  # written again: still one event file, in one run
        assert main(["compare", str(seeds), "--tensorboard"]) == 0
    held = list(seeds.glob("*/events.out.tfevents.*.comparison"))
    assert len(held) == 1 and not (seeds / "comparison").exists()
    mux = plugin_event_multiplexer.EventMultiplexer().AddRunsFromDirectory(str(seeds))
    mux.Reload()
    runs = {run for run in mux.Runs() if mux.Runs()[run]}  # every directory TensorBoard lists as a run
    assert "comparison" not in runs and runs <= {p.name for p in seeds.iterdir() if p.is_dir()}
    with_table = [run for run in mux.Runs() if "comparison/text_summary" in mux.Runs()[run].get("tensors", [])]
    assert with_table == [held[0].parent.name]
    text = mux.Tensors(with_table[0], "comparison/text_summary")[-1].tensor_proto.string_val[0].decode()
    assert "| l2 " in text and "31 ± 1 (3) b" in text and "within noise" in text
    assert main(["compare", str(seeds)]) == 0 and "comparison" not in capsys.readouterr().out  # not taken for a run


def test_parameters_that_follow_a_component_name_do_not_split_or_widen_groups(tmp_path: Path, capsys):
    for name, extra in (("linear", {"beta_start": 0.0001}), ("cosine", {})):
        for seed in (0, 1):
            make_run(tmp_path / "sw" / f"{name}-s{seed}", "l2", seed, 10.0 + seed,
                     config={"scheduler": {"name": name, **extra}})
    assert main(["compare", str(tmp_path / "sw"), "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["scheduler.name"], r["runs"]) for r in rows] == [("cosine", 2), ("linear", 2)]
    assert "scheduler.beta_start" not in rows[1]
