"""``diffkit sweep``: the sweep file, a 2x2 grid on digits killed and re-run, failures,
reproducibility, and hparams and metrics read back from TensorBoard's event files."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from tensorboard.backend.event_processing import plugin_event_accumulator
from tensorboard.plugins.hparams import plugin_data_pb2

from diffkit.cli.main import main
from diffkit.config import compose, validate
from diffkit.errors import ConfigError
from diffkit.sweep import load_sweep
from diffkit_builtin.metrics.classifier import CACHE_ENV
from tests.conftest import REPO, cli_env, run_cli
from tests.test_metrics import feature_cache  # noqa: F401 - the digits-8 feature classifier

#: TINY-like settings for every run of the test sweeps; 30 steps leave time to kill one midway.
OVERRIDES = {
    "data.image_size": 8,
    "data.batch_size": 16,
    "denoiser.channels": [8, 16],
    "time_embedding.dim": 8,
    "scheduler.num_timesteps": 20,
    "train.progress": False,
    "train.sample_every": 0,
    "train.num_samples": 4,
    "train": {"steps": 30, "log_every": 10, "checkpoint_every": 5},
    "eval": {"metrics": ["fid", "precision_recall"], "num_samples": 16},
}
GRID = {"optim.lr": [0.001, 0.002], "seed": [0, 1]}
NAMES = ["lr0.001-s0", "lr0.001-s1", "lr0.002-s0", "lr0.002-s1"]


def write_sweep(path: Path, grid: dict, **extra) -> Path:
    path.write_text(
        yaml.safe_dump({"base": str(REPO / "configs/default.yaml"), "overrides": OVERRIDES, "grid": grid, **extra})
    )
    return path


def test_sweep_file_expands_the_grid_into_named_runs(tmp_path: Path):
    sweep = load_sweep(write_sweep(tmp_path / "abl.yaml", GRID))
    assert [r.name for r in sweep.runs] == NAMES
    assert sweep.dir == Path("runs/sweeps/abl")
    args = sweep.run_overrides(sweep.runs[1])
    assert args[-3:] == ["run.hparams=[optim.lr, seed]", "optim.lr=0.001", "seed=1"]  # the varying keys, for trackers
    assert "denoiser.channels=[8, 16]" in args and "train.steps=30" in args
    assert "eval.metrics=[fid, precision_recall]" in args


@pytest.mark.parametrize("name, count", [("seed_ablation.yaml", 8), ("digits_quick.yaml", 12)])
def test_example_sweeps_compose_into_valid_configs(name: str, count: int, plugins):
    sweep = load_sweep(REPO / "configs" / "sweeps" / name)
    assert len(sweep.runs) == count
    for run in sweep.runs:
        composed = compose(sweep.base, sweep.run_overrides(run), plugins.registry)
        validate(composed)
        cfg = composed.cfg
        values = {**sweep.overrides, **run.values}
        assert (cfg.loss.name, cfg.scheduler.name, cfg.scheduler.num_timesteps) == (
            values["loss.name"],
            values["scheduler.name"],
            values["scheduler.num_timesteps"],
        )
        assert list(cfg.run.hparams) == sweep.varying()
        assert list(cfg.eval.metrics) == ["fid", "precision_recall"]


def test_sweep_file_errors_name_the_key(tmp_path: Path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("grid: {seed: [0]}\nruns: 3\n")
    with pytest.raises(ConfigError, match="unknown key 'runs'; a sweep file has base, overrides, grid, name, dir"):
        load_sweep(bad)
    bad.write_text("grid: {seed: 0}\n")
    with pytest.raises(ConfigError, match=r"grid.seed must be a non-empty list of values, got 0"):
        load_sweep(bad)
    bad.write_text("base: nowhere.yaml\n")
    with pytest.raises(ConfigError, match="base config 'nowhere.yaml' not found"):
        load_sweep(bad)


def test_dry_run_lists_runs_and_writes_nothing(tmp_path: Path, capsys):
    path = write_sweep(tmp_path / "abl.yaml", GRID, dir=str(tmp_path / "out"))
    assert main(["sweep", str(path), "--dry-run"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0] == f"# 4 runs in {tmp_path / 'out'}"
    assert [ln.split()[:2] for ln in lines[1:]] == [["start", n] for n in NAMES]
    assert not (tmp_path / "out").exists()


def test_a_failing_run_is_recorded_and_the_others_go_on(tmp_path: Path):
    path = tmp_path / "fail.yaml"  # image_folder without a root validates, then fails to load its data
    path.write_text(
        yaml.safe_dump(
            {
                "overrides": {**OVERRIDES, "train": {"steps": 2, "checkpoint_every": 0}, "eval": {"metrics": []}},
                "grid": {"data.name": ["image_folder", "digits"]},
                "dir": str(tmp_path / "out"),
            }
        )
    )
    proc = run_cli("sweep", str(path), "--jobs", "2", check=False)
    assert proc.returncode == 1
    runs = {r["name"]: r for r in json.loads((tmp_path / "out/sweep.json").read_text())["runs"]}
    assert runs["image_folder"]["status"] == "failed"
    assert "data.root must name the folder of images" in runs["image_folder"]["error"]
    assert runs["digits"]["status"] == "completed" and runs["digits"]["metrics"]["step"] == 2


@pytest.mark.slow
def test_a_run_killed_after_its_last_checkpoint_is_resumed_and_keeps_user_files(tmp_path: Path, monkeypatch, capsys):
    """SIGKILLed during its final evaluation (after the step-6 checkpoint): the re-run
    resumes it and evaluates (it used to start it afresh, deleting the directory)."""
    path = tmp_path / "kill.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "base": str(REPO / "configs/default.yaml"),
                "dir": str(tmp_path / "out"),
                "overrides": {
                    **OVERRIDES,
                    "train": {"steps": 6, "log_every": 2, "checkpoint_every": 3},
                    "eval": {"metrics": ["count"], "num_samples": 8},
                },
                "grid": {"seed": [0]},
            }
        )
    )
    name = load_sweep(path).runs[0].name
    run_dir = tmp_path / "out" / name
    monkeypatch.setenv("DIFFKIT_TEST_KILL", f"{tmp_path / 'killed'}:{name}")
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    assert main(["sweep", str(path), "-p", "tests.sweep_plugin"]) == 1
    assert (tmp_path / "killed").exists()
    assert json.loads((run_dir / "status.json").read_text())["status"] == "running"
    assert (run_dir / "checkpoints" / "step_0000006.pt").is_file()
    (run_dir / "notes.txt").write_text("mine")
    capsys.readouterr()
    assert main(["sweep", str(path), "-p", "tests.sweep_plugin", "--dry-run"]) == 0
    assert capsys.readouterr().out.splitlines()[1].split()[:2] == ["resume", name]
    # the plan is the launcher's to follow, so the built-in in-process launcher saves a process here
    assert main(["sweep", str(path), "-p", "tests.sweep_plugin", "--launcher", "inline"]) == 0
    assert json.loads((run_dir / "status.json").read_text())["status"] == "completed"
    assert (run_dir / "notes.txt").read_text() == "mine"
    attempts = [
        ln for ln in (tmp_path / "out" / "logs" / f"{name}.log").read_text().splitlines() if ln.startswith("$ ")
    ]
    assert len(attempts) == 2 and "--resume" in attempts[1]
    assert (run_dir / "samples" / "step_0000006.png").is_file()
    assert json.loads((tmp_path / "out" / "sweep.json").read_text())["runs"][0]["action"] == "resume"
    assert json.loads((run_dir / "metrics.json").read_text())["eval/count"] == 8


@pytest.fixture(scope="module")
def killed_and_rerun(tmp_path_factory, feature_cache) -> dict:  # noqa: F811
    """The 2x2 sweep, SIGKILLed (the whole process group) once the second run has a
    checkpoint, then re-run with --jobs 2."""
    root = tmp_path_factory.mktemp("sweep")
    path = write_sweep(root / "abl.yaml", GRID, dir=str(root / "out"))
    env = cli_env(**{CACHE_ENV: str(feature_cache)})
    out = root / "out"
    first = subprocess.Popen(
        [sys.executable, "-m", "diffkit", "sweep", str(path)],
        env=env,
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    second_ckpt = out / NAMES[1] / "checkpoints" / "last.pt"
    deadline = time.monotonic() + 240
    while not second_ckpt.exists() and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    mtime = (out / NAMES[0] / "metrics.json").stat().st_mtime_ns
    status_after_kill = json.loads((out / NAMES[1] / "status.json").read_text())["status"]
    plan = run_cli("sweep", str(path), "--dry-run", cwd=root, env=env).stdout
    rerun = run_cli("sweep", str(path), "--jobs", "2", cwd=root, env=env)
    return {
        "root": root,
        "out": out,
        "env": env,
        "plan": plan,
        "rerun": rerun,
        "mtime": mtime,
        "status_after_kill": status_after_kill,
        "path": path,
    }


@pytest.mark.long  # a whole sweep: minutes on 2 cores (python -m pytest -m long)
def test_rerun_skips_finished_runs_resumes_the_killed_one_and_starts_the_rest(killed_and_rerun):
    k = killed_and_rerun
    assert k["status_after_kill"] == "running"
    actions = [ln.split()[0] for ln in k["plan"].strip().splitlines()[1:]]
    assert actions == ["skip", "resume", "start", "start"]
    assert "4/4 completed (1 skipped, 1 resumed, 2 started)" in k["rerun"].stderr
    assert (k["out"] / NAMES[0] / "metrics.json").stat().st_mtime_ns == k["mtime"]  # untouched
    summary = json.loads((k["out"] / "sweep.json").read_text())
    assert [(r["name"], r["status"]) for r in summary["runs"]] == [(n, "completed") for n in NAMES]
    assert all(r["metrics"]["eval/fid"] > 0 and r["metrics"]["eval/sampler"] == "ddpm" for r in summary["runs"])
    log = (k["out"] / "logs" / f"{NAMES[1]}.log").read_text()
    attempts = [ln for ln in log.splitlines() if ln.startswith("$ ")]
    assert len(attempts) == 2 and "--resume" not in attempts[0] and "--resume" in attempts[1]


@pytest.mark.slow
def test_every_run_logs_hparams_and_final_metrics_to_its_own_event_files(killed_and_rerun):
    for name in NAMES:
        run_dir = killed_and_rerun["out"] / name
        assert not [p for p in run_dir.iterdir() if p.is_dir() and p.name not in ("checkpoints", "samples")]
        acc = plugin_event_accumulator.EventAccumulator(str(run_dir))
        acc.Reload()
        content = acc.PluginTagToContent("hparams")
        start = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/session_start_info"])
        hparams = start.session_start_info.hparams
        config = yaml.safe_load((run_dir / "config.yaml").read_text())
        assert set(hparams) == {"optim.lr", "seed"}  # only what the grid varies
        assert hparams["optim.lr"].number_value == pytest.approx(config["optim"]["lr"])
        assert hparams["seed"].string_value == str(config["seed"])  # an integer, shown as one
        experiment = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/experiment"]).experiment
        assert [m.name.tag for m in experiment.metric_infos] == [
            "eval/fid",
            "eval/precision",
            "eval/recall",
            "train/loss",
        ]
        end = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/session_end_info"]).session_end_info
        assert end.status == 1  # STATUS_SUCCESS
        metrics = json.loads((run_dir / "metrics.json").read_text())
        for tag in ("eval/fid", "eval/precision", "eval/recall", "train/loss"):
            events = acc.Tensors(tag)
            value = float(events[-1].tensor_proto.float_val[0])
            assert events[-1].step == 30 and value == pytest.approx(metrics[tag], rel=1e-5)
        assert {"samples", "forward_process"} <= set(acc.Tags()["tensors"])


@pytest.mark.slow
def test_compare_prints_the_sweep_with_its_differing_hparams_and_metrics(killed_and_rerun):
    out = run_cli("compare", str(killed_and_rerun["out"]), "--runs", "--sort", "eval/fid").stdout
    header, rule, *rows = out.strip().splitlines()
    cols = [c.strip() for c in header.strip("|").split("|")]
    assert cols[:4] == ["run", "status", "seed", "optim.lr"]
    assert {"eval/fid", "eval/precision", "eval/recall", "train/loss"} <= set(cols) and "eval/sampler" not in cols
    assert len(rows) == 4 and sorted(r.split("|")[1].strip() for r in rows) == NAMES
    fids = [float(r.split("|")[cols.index("eval/fid") + 1]) for r in rows]
    assert fids == sorted(fids)
    # the end-of-sweep summary is the table diffkit compare prints
    assert killed_and_rerun["rerun"].stdout == run_cli("compare", str(killed_and_rerun["out"])).stdout
    # each completed run refreshed the sweep's table for TensorBoard's text dashboard: 4 runs, 2 groups of 2 seeds
    (held,) = killed_and_rerun["out"].glob("*/events.out.tfevents.*.comparison")  # in one run, no run of its own
    assert not (killed_and_rerun["out"] / "comparison").exists()
    acc = plugin_event_accumulator.EventAccumulator(str(held))
    acc.Reload()
    event = max(acc.Tensors("comparison/text_summary"), key=lambda e: e.step)
    text = event.tensor_proto.string_val[0].decode()
    assert event.step == 4 and text.splitlines()[2].startswith("| optim.lr | n |")
    assert text.count("| 2 |") == 2 and "Verdicts on eval/fid" in text


@pytest.mark.long  # a whole sweep: minutes on 2 cores (python -m pytest -m long)
def test_the_same_sweep_run_again_gives_the_same_metrics(killed_and_rerun):
    k = killed_and_rerun
    again = write_sweep(k["root"] / "again.yaml", {"optim.lr": [0.001], "seed": [0, 1]}, dir=str(k["root"] / "again"))
    run_cli("sweep", str(again), "--jobs", "2", cwd=k["root"], env=k["env"])
    for name in NAMES[:2]:  # the second was killed and resumed in the first sweep
        first = json.loads((k["out"] / name / "metrics.json").read_text())
        second = json.loads((k["root"] / "again" / name / "metrics.json").read_text())
        assert first == second
