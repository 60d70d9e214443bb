"""Launchers: the submitit launcher end to end with submitit's local executor (a run
pre-empted and requeued, failing runs), the sbatch script it would submit, a
third-party launcher from a plugin, validation before launch, and re-runs that resume
a run killed after its last checkpoint without losing files."""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path

import pytest
import torch
import yaml

from diffkit import checkpoint as ckpt
from diffkit.cli.main import main
from diffkit.plugin_manager import load_plugins
from diffkit.sweep import load_sweep
from diffkit.sweep.execute import make_job
from tests.conftest import REPO

submitit = pytest.importorskip("submitit")

#: TINY as sweep overrides: 6 steps, a checkpoint every 3, so a signal at step 2 saves step 3.
OVERRIDES = {
    "data.image_size": 8,
    "data.batch_size": 16,
    "denoiser.channels": [8, 16],
    "time_embedding.dim": 8,
    "scheduler.num_timesteps": 20,
    "train": {
        "steps": 6,
        "log_every": 2,
        "sample_every": 0,
        "checkpoint_every": 3,
        "num_samples": 4,
        "progress": False,
    },
}
PLUGIN = "tests.sweep_plugin"


def write_sweep(path: Path, grid: dict, **extra) -> Path:
    path.write_text(
        yaml.safe_dump(
            {
                "base": str(REPO / "configs/default.yaml"),
                "overrides": OVERRIDES,
                "grid": grid,
                "dir": str(path.parent / "out"),
                **extra,
            }
        )
    )
    return path


def summary(out: Path) -> dict[str, dict]:
    return {r["name"]: r for r in json.loads((out / "sweep.json").read_text())["runs"]}


@pytest.fixture(scope="module")
def slurm_local(tmp_path_factory) -> dict:
    """A 2x2 sweep through the submitit launcher on submitit's local executor: two digits
    runs that differ only in how many checkpoints they keep (so their weights must be
    equal), one of them pre-empted after step 2; two image_folder runs without a root fail."""
    root = tmp_path_factory.mktemp("slurm")
    path = write_sweep(
        root / "abl.yaml",
        {"run.keep_checkpoints": [2, 3], "data.name": ["digits", "image_folder"]},
        launcher={"name": "submitit", "cluster": "local", "gpus_per_node": 0, "poll_s": 0.2},
    )
    names = {(r.values["run.keep_checkpoints"], r.values["data.name"]): r.name for r in load_sweep(path).runs}
    preempted = names[3, "digits"]
    env = {"DIFFKIT_TEST_PREEMPT": f"{root / 'preempted'}:{preempted}", "PYTHONPATH": str(REPO)}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        code = main(["sweep", str(path), "-p", PLUGIN])
    finally:
        for k, v in saved.items():
            os.environ.pop(k) if v is None else os.environ.__setitem__(k, v)
    return {"root": root, "out": root / "out", "code": code, "preempted": preempted, "names": names}


def weights(run_dir: Path) -> dict:
    state = ckpt.load(run_dir / "checkpoints" / "last.pt")
    return {
        "model": state["model"],
        "ema": state["ema"],
        "optimizer": state["optimizer"]["state"],
        "step": state["step"],
    }


def equal(a, b) -> bool:
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b)
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(equal(a[k], b[k]) for k in a)
    return a == b


@pytest.mark.long  # a whole sweep: minutes on 2 cores (python -m pytest -m long)
def test_submitit_sweep_runs_end_to_end_and_records_failures_once(slurm_local):
    runs = summary(slurm_local["out"])
    assert slurm_local["code"] == 1  # two runs failed
    assert {n: runs[n]["status"] for n in slurm_local["names"].values()} == {
        n: "completed" if data == "digits" else "failed" for (_, data), n in slurm_local["names"].items()
    }
    for name, r in runs.items():
        assert r["job_id"] and r["attempts"] == 1
        if r["status"] == "failed":
            assert "data.root must name the folder of images" in r["error"]
            assert (slurm_local["out"] / "logs" / f"{name}.log").read_text().count("$ diffkit train") == 1
        else:
            assert r["metrics"]["step"] == 6
    launcher = json.loads((slurm_local["out"] / "sweep.json").read_text())["launcher"]
    assert launcher["name"] == "submitit" and launcher["cluster"] == "local"


@pytest.mark.slow
def test_a_preempted_job_is_requeued_and_ends_bitwise_equal_to_an_uninterrupted_run(slurm_local):
    out, name = slurm_local["out"], slurm_local["preempted"]
    assert (slurm_local["root"] / "preempted").exists()  # the signal was sent
    attempts = [ln for ln in (out / "logs" / f"{name}.log").read_text().splitlines() if ln.startswith("$ ")]
    assert len(attempts) == 2 and "--resume" not in attempts[0] and "--resume" in attempts[1]
    assert ckpt.load(out / name / "checkpoints" / "step_0000003.pt")["step"] == 3  # saved at the next step
    reference = weights(out / slurm_local["names"][2, "digits"])
    resumed = weights(out / name)
    assert resumed["step"] == reference["step"] == 6
    assert equal(resumed, reference)


@pytest.mark.slow
def test_status_shows_each_runs_state_and_job(slurm_local, capsys):
    assert main(["sweep", "--status", str(slurm_local["out"])]) == 0
    header, _, *rows = capsys.readouterr().out.strip().splitlines()
    assert [c.strip() for c in header.strip("|").split("|")] == ["run", "state", "step", "job", "attempts", "error"]
    cells = {r.split("|")[1].strip(): [c.strip() for c in r.strip("|").split("|")] for r in rows}
    assert cells[slurm_local["preempted"]][1:3] == ["completed", "6/6"]
    assert cells[slurm_local["names"][2, "image_folder"]][1] == "failed"
    assert all(c[3] == summary(slurm_local["out"])[n]["job_id"] for n, c in cells.items())


def test_sbatch_script_holds_the_configured_resources(tmp_path: Path, monkeypatch):
    path = write_sweep(
        tmp_path / "abl.yaml",
        {"seed": [0, 1, 2]},
        launcher={
            "name": "submitit",
            "partition": "gpu",
            "time": 240,
            "gpus_per_node": 4,
            "cpus_per_task": 10,
            "mem_gb": 64,
            "account": "proj1",
            "qos": "high",
            "array_parallelism": 2,
            "setup": ["module load cuda"],
            "sbatch": {"exclude": "node7"},
        },
    )
    sweep = load_sweep(path)
    launcher = load_plugins(autoload=False).registry.build("launcher", sweep.launcher, where="launcher")
    jobs = [make_job(sweep, r, []) for r in sweep.runs]
    script = launcher.describe(jobs)
    for line in (
        "#SBATCH --partition=gpu",
        "#SBATCH --time=240",
        "#SBATCH --gpus-per-node=4",
        "#SBATCH --ntasks-per-node=4",
        "#SBATCH --cpus-per-task=10",
        "#SBATCH --mem=64GB",
        "#SBATCH --job-name=diffkit-out",
        "#SBATCH --account=proj1",
        "#SBATCH --qos=high",
        "#SBATCH --array=0-2%2",
        "#SBATCH --exclude=node7",
        "#SBATCH --signal=USR2@120",
        "module load cuda",
    ):
        assert line in script.splitlines(), line
    # the same text as submitit's SlurmExecutor writes for the job (it wants srun on the PATH)
    fake = tmp_path / "bin" / "srun"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{fake.parent}{os.pathsep}{os.environ['PATH']}")
    executor = launcher.executor(launcher.folder_for(jobs).resolve(), "diffkit-out")
    executor.parameters["map_count"] = len(jobs)
    assert executor._make_submission_file_text(executor._submitit_command_str, "uid") == script
    # and --dry-run prints it after the plan
    assert main(["sweep", str(path), "--dry-run"]) == 0


def test_a_plugin_launcher_is_used_by_name_and_retries_a_failed_run_a_bounded_number_of_times(tmp_path: Path, capsys):
    tally = tmp_path / "tally.txt"
    path = write_sweep(
        tmp_path / "abl.yaml",
        {"data.name": ["digits", "image_folder"]},
        launcher={"name": "tally", "tally": str(tally), "retries": 1},
    )
    leftover = tmp_path / "out" / load_sweep(path).runs[0].name  # a run dir without a checkpoint
    leftover.mkdir(parents=True)
    (leftover / "notes.txt").write_text("mine")
    assert main(["sweep", str(path), "-p", PLUGIN]) == 1
    moved = [p for p in leftover.parent.iterdir() if p.name.startswith(f"{leftover.name}.discarded-")]
    assert len(moved) == 1 and (moved[0] / "notes.txt").read_text() == "mine"  # moved aside, never deleted
    assert tally.read_text().splitlines() == ["digits 0", "image_folder 2", "image_folder 2"]
    runs = summary(tmp_path / "out")
    assert runs["digits"] == {**runs["digits"], "status": "completed", "attempts": 1, "job_id": "tally-digits"}
    failed = runs["image_folder"]
    assert failed["status"] == "failed" and failed["attempts"] == 2 and "data.root must name" in failed["error"]
    err = capsys.readouterr().err
    assert "diffkit sweep: retry image_folder" in err and f"moved it aside to {moved[0]}" in err
    assert main(["sweep", str(path), "-p", PLUGIN]) == 1  # again: digits is skipped and keeps its job
    again = summary(tmp_path / "out")["digits"]
    assert (again["action"], again["status"], again["job_id"], again["attempts"]) == (
        "skip",
        "completed",
        "tally-digits",
        1,
    )


@pytest.mark.parametrize(
    "grid, bad, message",
    [
        ({"loss.name": ["l1", "nope"]}, "nope", "loss.name: unknown loss 'nope'"),
        ({"loss.name": ["huber"], "loss.delta": [1.0, "abc"]}, "abc", "loss.delta='abc' is not allowed; use a number"),
        ({"denoiser.channelz": [[8, 16]]}, [8, 16], "denoiser.channelz: denoiser 'unet' has no parameter 'channelz'"),
    ],
)
def test_a_bad_grid_value_exits_2_naming_run_and_key_before_anything_is_submitted(tmp_path, capsys, grid, bad, message):
    path = write_sweep(tmp_path / "abl.yaml", grid, launcher={"name": "submitit", "cluster": "slurm"})
    run = next(r.name for r in load_sweep(path).runs if bad in r.values.values())
    for extra in ([], ["--dry-run"]):
        assert main(["sweep", str(path), *extra]) == 2
        err = capsys.readouterr().err
        assert f"run {run}: {message}" in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "out").exists()


def test_launcher_errors_are_one_line_with_exit_2(tmp_path, capsys, monkeypatch):
    path = write_sweep(tmp_path / "abl.yaml", {"seed": [0]})
    cases = [
        (["--launcher", "submitt"], "unknown launcher 'submitt'; did you mean 'submitit'?"),
        (
            ["--launcher", "submitit", "launcher.partiton=gpu"],
            "launcher.partiton: launcher 'submitit' has no parameter",
        ),
        (["--launcher", "submitit", "--jobs", "2"], "--jobs is for the local and inline launchers"),
        (["seed=3"], "diffkit sweep takes only launcher.KEY=VALUE settings"),
    ]
    for args, message in cases:
        assert main(["sweep", str(path), *args]) == 2
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1, err
    monkeypatch.setitem(sys.modules, "submitit", None)  # as if not installed
    assert main(["sweep", str(path), "--launcher", "submitit", "--dry-run"]) == 2
    assert capsys.readouterr().err.strip() == (
        'diffkit: error: the submitit launcher needs the submitit package: pip install "diffkit[slurm]"'
    )


def test_torchrun_variables_come_from_the_slurm_job(monkeypatch):
    from diffkit_builtin.launchers.slurm_job import torchrun_env

    for key, value in {
        "SUBMITIT_EXECUTOR": "slurm",
        "SLURM_JOB_ID": "4242",
        "SLURM_NTASKS": "8",
        "SLURM_PROCID": "5",
        "SLURM_LOCALID": "1",
        "SLURM_JOB_NUM_NODES": "2",
        "SLURM_NODEID": "1",
        "SLURM_JOB_NODELIST": "gpu[012-013]",
    }.items():
        monkeypatch.setenv(key, value)
    env = torchrun_env(submitit.JobEnvironment())
    assert {k: env[k] for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR")} == {
        "RANK": "5",
        "WORLD_SIZE": "8",
        "LOCAL_RANK": "1",
        "MASTER_ADDR": "gpu012",
    }
    assert 20000 <= int(env["MASTER_PORT"]) < 40000
    monkeypatch.setenv("SLURM_NTASKS", "1")
    assert torchrun_env(submitit.JobEnvironment()) == {}


def test_a_sweep_does_not_launch_while_jobs_of_an_earlier_one_still_run(tmp_path, capsys):
    path = write_sweep(
        tmp_path / "abl.yaml", {"seed": [0, 1]}, launcher={"name": "submitit", "cluster": "local", "gpus_per_node": 0}
    )
    out, names = tmp_path / "out", [r.name for r in load_sweep(path).runs]
    out.mkdir()
    (out / "sweep.json").write_text(
        json.dumps(
            {
                "launcher": {"name": "submitit"},
                "runs": [
                    {"name": names[0], "dir": str(out / names[0]), "status": "running", "job_id": str(os.getpid())},
                    {"name": names[1], "dir": str(out / names[1]), "status": "queued", "job_id": "999999999"},
                ],
            }
        )
    )
    assert main(["sweep", str(path)]) == 2
    err = capsys.readouterr().err
    assert (
        f"1 run(s) of {out} are still queued or running from an earlier `diffkit sweep`: {names[0]} (job {os.getpid()})"
        in err
    )
    assert main(["sweep", "--status", str(out)]) == 0
    rows = capsys.readouterr().out.strip().splitlines()[2:]
    assert [r.split("|")[2].strip() for r in rows] == ["running", "queued"]
