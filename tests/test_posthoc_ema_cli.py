"""Post-hoc EMA from the command line on a tiny digits run: ``eval --ema``, ``sample --ema``,
``compare`` with the EMA-length axis, and a sweep with ``posthoc_ema``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from diffkit.cli.main import main
from diffkit_builtin.metrics.classifier import CACHE_ENV
from tests.conftest import TINY, cli_env, run_cli
from tests.test_metrics import feature_cache  # noqa: F401 - the digits-8 feature classifier

pytestmark = pytest.mark.slow
POWER = [*TINY, "ema.name=power", "ema.snapshot_every=2"]
LENGTHS = [0.05, 0.1, 0.2]


@pytest.fixture(scope="module")
def power_run(tmp_path_factory) -> Path:
    run_dir = tmp_path_factory.mktemp("posthoc") / "run"
    run_cli("train", *POWER, f"run.dir={run_dir}")
    return run_dir


def test_eval_scores_each_length_and_compare_shows_the_axis(power_run, feature_cache, capsys):  # noqa: F811
    env = cli_env(**{CACHE_ENV: str(feature_cache)})
    proc = run_cli("eval", str(power_run), "--num", "24", "--metric", "fid", "--ema", "0.05,0.1,0.2", env=env)
    header, *rows = [line.split("\t") for line in proc.stdout.strip().splitlines()]
    assert header[:2] == ["ema", "eval/fid"] and [r[0] for r in rows] == ["0.05", "0.1", "0.2"]
    metrics = json.loads((power_run / "metrics.json").read_text())
    fids = [metrics[f"eval/fid@ema{s:g}"] for s in LENGTHS]
    assert [float(r[1]) for r in rows] == pytest.approx(fids, rel=1e-5)
    assert all(f > 0 for f in fids) and len(set(fids)) == 3  # other weights, other scores
    assert metrics["eval/checkpoint_step@ema0.1"] == 6 and metrics["eval/num_samples@ema0.2"] == 24
    assert "eval/fid" not in metrics  # the run's own EMA was not scored

    assert main(["compare", str(power_run), "--runs", "--format", "json"]) == 0  # one row per run and length
    table = json.loads(capsys.readouterr().out)
    assert [r["run"] for r in table] == ["run", "run@ema0.05", "run@ema0.1", "run@ema0.2"]
    assert [r["ema.sigma_rel"] for r in table] == ["tracked", *LENGTHS]
    best = [r["run"] for r in table if r["best_ema"] == "*"]
    assert best == [f"run@ema{LENGTHS[int(np.argmin(fids))]:g}"]
    assert [r["eval/fid"] for r in table[1:]] == pytest.approx(fids)


def test_sample_with_a_post_hoc_length(power_run, tmp_path):
    out = {}
    for name, flags in (("0.05", ["--ema", "0.05"]), ("0.2", ["--ema", "0.2"]), ("raw", ["--no-ema"])):
        path = tmp_path / f"{name}.npz"
        proc = run_cli("sample", str(power_run), "--num", "4", "--out", str(path), *flags)
        out[name] = np.load(path)["arr_0"]
        assert out[name].shape == (4, 8, 8, 1)
    assert "post-hoc EMA 0.05" in proc.stderr or name == "raw"
    assert not np.array_equal(out["0.05"], out["0.2"]) and not np.array_equal(out["0.05"], out["raw"])


def test_ema_errors_are_one_line(power_run, tmp_path, capsys):
    plain = tmp_path / "plain"
    assert main(["train", *TINY, "train.steps=2", f"run.dir={plain}"]) == 0
    capsys.readouterr()
    for argv, message in (
        (["eval", str(plain), "--ema", "0.1"], f"no post-hoc EMA snapshots in {plain / 'ema_snapshots'}"),
        (["eval", str(power_run), "--ema", "0.5"], "--ema: sigma_rel=0.5 is not allowed"),
        (["eval", str(power_run), "--ema", "x"], "--ema 'x': give relative EMA lengths"),
        (["sample", str(power_run), "--out", str(tmp_path / "a.png"), "--ema", "0.1,0.2"], "sample takes one length"),
    ):
        assert main(argv) == 2
        err = [ln for ln in capsys.readouterr().err.strip().splitlines() if not ln.startswith("diffkit: warning")]
        assert len(err) == 1 and message in err[0], err


@pytest.mark.long  # a whole sweep: minutes on 2 cores (python -m pytest -m long)
def test_a_sweep_with_posthoc_ema_has_the_axis_in_compare(tmp_path, feature_cache, monkeypatch, capsys):  # noqa: F811
    monkeypatch.setenv(CACHE_ENV, str(feature_cache))
    overrides = {k: yaml.safe_load(v) for k, v in (a.split("=", 1) for a in TINY)}
    overrides.update({"eval.metrics": ["fid"], "eval.num_samples": 24, "eval.batch_size": 24, "ema.snapshot_every": 2})
    sweep = tmp_path / "sweep.yaml"
    sweep.write_text(
        yaml.safe_dump(
            {
                "overrides": overrides,
                "grid": {"optim.lr": [0.001, 0.003]},
                "posthoc_ema": [0.05, 0.15],
                "dir": str(tmp_path / "sweep"),
            }
        )
    )
    assert main(["sweep", str(sweep)]) == 0
    capsys.readouterr()
    assert main(["compare", str(tmp_path / "sweep"), "--runs", "--format", "json"]) == 0
    table = json.loads(capsys.readouterr().out)
    assert {(r["optim.lr"], r["ema.sigma_rel"]) for r in table} == {
        (lr, s) for lr in (0.001, 0.003) for s in ("tracked", 0.05, 0.15)
    }
    for lr in (0.001, 0.003):  # one best length per arm, the lowest FID among its lengths
        arm = [r for r in table if r["optim.lr"] == lr and r["ema.sigma_rel"] != "tracked"]
        assert [r["best_ema"] for r in arm].count("*") == 1
        assert min(arm, key=lambda r: r["eval/fid"])["best_ema"] == "*"
    assert all(r["eval/fid"] > 0 for r in table)  # the tracked rows: the evaluation at the end of training
    assert main(["compare", str(tmp_path / "sweep"), "--runs"]) == 0
    markdown = capsys.readouterr().out
    assert "| ema.sigma_rel | best_ema |" in markdown.replace("optim.lr | ", "")
    assert main(["compare", str(tmp_path / "sweep")]) == 0  # the arms: one per (lr, length)
    arms = capsys.readouterr().out
    assert "0.05" in arms and "0.15" in arms and "tracked" in arms


def test_python_api_switches_between_lengths_and_the_runs_own_weights(power_run):
    import torch

    from diffkit import open_run

    run = open_run(power_run, device="cpu")
    own = run.sample(3, seed=1, progress=False)
    posthoc = run.sample(3, seed=1, progress=False, ema=0.15)
    assert not torch.equal(own, posthoc)
    assert torch.equal(run.sample(3, seed=1, progress=False), own)  # back to the checkpoint's weights
    fresh = open_run(power_run, device="cpu")
    assert torch.equal(fresh.sample(3, seed=1, progress=False, ema=0.15), posthoc)


def test_the_grouped_comparison_marks_the_best_length_of_each_arm():
    from pathlib import Path

    from diffkit.sweep import summary
    from diffkit.sweep.collect import RunRecord

    fid = {(0.001, 0.05): 30.0, (0.001, 0.15): 20.0, (0.003, 0.05): 10.0, (0.003, 0.15): 40.0}
    records = [
        RunRecord(
            f"lr{lr}-s{seed}@ema{s}",
            Path("."),
            "completed",
            {"optim.lr": lr, "seed": seed, "ema.sigma_rel": s},
            {"eval/fid": value + seed},
        )
        for (lr, s), value in fid.items()
        for seed in (0, 1)
    ]
    c = summary.build(records)
    columns, rows = summary.as_rows(c)
    assert columns.index("best_ema") == columns.index("ema.sigma_rel") + 1
    marked = {(r["optim.lr"], r["ema.sigma_rel"]) for r in rows if r["best_ema"] == "*"}
    assert marked == {(0.001, 0.15), (0.003, 0.05)}  # the lower mean FID of each lr, not the lowest overall
    assert "| best_ema |" in summary.markdown(c).replace("ema.sigma_rel | ", "| ")
