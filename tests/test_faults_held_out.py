"""Faults a held-out hunt found (issue 25), each one line with the documented exit code,
no traceback, and nothing of the run or the scratch directory lost or changed; plus the
cases that must not be faults (a resume override equal to what the run was trained with)."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from diffkit.interfaces.timesteps import discrete_timesteps
from diffkit.runner import rundir
from tests.conftest import REPO, TINY, cli_env
from tests.test_faults import _write, call, digest, run, trained  # noqa: F401 (fixtures)
from tests.test_faults import one_line as _one_line

#: TINY without its scheduler keys, for cases that switch the scheduler (no "dropped" note).
TINY_ANY = [a for a in TINY if not a.startswith("scheduler.")]


def _sweep_file(t: Path, body: str) -> Path:
    return _write(t / "s.yaml", f"base: {REPO / 'configs/default.yaml'}\ngrid: {{seed: [0]}}\n{body}")


def one_line(stderr: str) -> str:
    """The one error line of `stderr`, its warning lines and the note of a switched component aside."""
    return _one_line("\n".join(ln for ln in stderr.splitlines() if not ln.startswith("diffkit: note:")))


Case = tuple[str, Callable[[Path, Path], list], int, list[str]]
CASES: list[Case] = [
    # non-finite and out-of-range component parameters, before a run dir exists
    (
        "edm-sigma-max-inf",
        lambda r, t: ["train", *TINY_ANY, "scheduler.name=edm", "scheduler.sigma_max=.inf", f"run.dir={t / 'new'}"],
        2,
        ["scheduler.sigma_max=inf", "finite number > 0"],
    ),
    (
        "edm-sigma-data-inf",
        lambda r, t: ["train", *TINY_ANY, "scheduler.name=edm", "scheduler.sigma_data=.inf", f"run.dir={t / 'new'}"],
        2,
        ["scheduler.sigma_data=inf"],
    ),
    (
        "edm-density-scale-inf",
        lambda r, t: ["train", *TINY_ANY, "scheduler.name=edm", "scheduler.density_scale=.inf", f"run.dir={t / 'new'}"],
        2,
        ["scheduler.density_scale=inf"],
    ),
    (
        "vp-cosine-density-loc-nan",
        lambda r, t: [
            "train",
            *TINY_ANY,
            "scheduler.name=vp_cosine",
            "scheduler.density_loc=.nan",
            f"run.dir={t / 'new'}",
        ],
        2,
        ["scheduler.density_loc=nan", "a finite number"],
    ),
    (
        "edm-sigma-data-negative",
        lambda r, t: ["train", *TINY_ANY, "scheduler.name=edm", "scheduler.sigma_data=-1", f"run.dir={t / 'new'}"],
        2,
        ["scheduler.sigma_data=-1", "> 0"],
    ),
    (
        "heun-churn-discrete",
        lambda r, t: ["train", *TINY, "sampler.name=heun", "sampler.churn=1.0", f"run.dir={t / 'new'}"],
        2,
        ["sampler.churn=1.0", "continuous", "linear"],
    ),
    # paths and names
    (
        "run-dir-newline",
        lambda r, t: ["train", *TINY, f"run.dir={t / 'a'}\n{t / 'b'}"],
        2,
        ["override run.dir", "line break"],
    ),
    (
        "run-dir-newline-in-config",
        lambda r, t: ["train", _write(t / "c.yaml", 'run:\n  dir: "a\\nb"\n'), *TINY],
        2,
        ["run.dir=", "no newline", "c.yaml"],
    ),
    (
        "run-dir-in-proc",
        lambda r, t: ["train", *TINY, "run.dir=/proc/diffkit-no-such-dir"],
        1,
        ["/proc/diffkit-no-such-dir: cannot create the run directory"],
    ),
    (
        "sweep-dir-a-number",
        lambda r, t: ["sweep", _sweep_file(t, "dir: 5\n"), "--dry-run"],
        2,
        ["s.yaml: dir must be a path", "got 5"],
    ),
    (
        "sweep-dir-a-list",
        lambda r, t: ["sweep", _sweep_file(t, "dir: [a, b]\n"), "--dry-run"],
        2,
        ["dir must be a path", "['a', 'b']"],
    ),
    (
        "new-plugin-trailing-dash",
        lambda r, t: ["new-plugin", "a-", "--dir", t],
        2,
        ["'a-' is not allowed", "ending with a letter or digit"],
    ),
    ("new-plugin-trailing-underscore", lambda r, t: ["new-plugin", "my_", "--dir", t], 2, ["'my_' is not allowed"]),
    # bounds
    ("eval-repeats-unbounded", lambda r, t: ["eval", r, "--repeats", 10**9], 2, ["--repeats 1000000000", "[1, 1000]"]),
    ("eval-repeats-zero", lambda r, t: ["eval", r, "--repeats", 0], 2, ["--repeats 0"]),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_fault_is_one_line_and_nothing_changes(case: Case, run: Path, tmp_path: Path, capsys) -> None:  # noqa: F811
    _, make_args, code, words = case
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    args = make_args(run, scratch)
    before, planted = digest(run), sorted(scratch.iterdir())
    got, stderr = call(capsys, *args)
    line = one_line(stderr)
    assert got == code, line
    assert line.startswith("diffkit: error: ") and ".tmp" not in line
    for word in words:
        assert word in line, (word, line)
    assert digest(run) == before
    assert sorted(scratch.iterdir()) == planted  # nothing made: no run dir, no package, no sweep dir


def fake_tools(bin_dir: Path, sbatch_says: str) -> None:
    """An sbatch that refuses with `sbatch_says`, and the srun submitit looks for."""
    bin_dir.mkdir()
    for name, body in (("sbatch", f"echo '{sbatch_says}' >&2\nexit 1"), ("srun", "exit 0")):
        path = bin_dir / name
        path.write_text(f"#!/bin/sh\n{body}\n")
        path.chmod(path.stat().st_mode | stat.S_IEXEC)


@pytest.mark.parametrize(
    "said, gpus, words",
    [
        (
            "sbatch: error: Batch job submission failed: Invalid generic resource (gres) specification",
            1,
            ["sbatch refused the jobs", "Invalid generic resource (gres) specification", "launcher.gpus_per_node=0"],
        ),
        (
            "sbatch: error: Batch job submission failed: Unable to contact slurm controller (connect failure)",
            0,
            ["Unable to contact slurm controller", "is SLURM running here"],
        ),
    ],
    ids=["gres-without-gpus", "no-cluster"],
)
def test_sbatch_refusing_the_jobs_is_one_line_naming_the_cause(said, gpus, words, tmp_path, capsys, monkeypatch):
    pytest.importorskip("submitit")
    fake_tools(tmp_path / "bin", said)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    path = _write(
        tmp_path / "s.yaml",
        yaml.safe_dump(
            {
                "base": str(REPO / "configs/default.yaml"),
                "grid": {"seed": [0, 1]},
                "dir": str(tmp_path / "out"),
                "launcher": {"name": "submitit", "cluster": "slurm", "gpus_per_node": gpus},
            }
        ),
    )
    code, stderr = call(capsys, "sweep", path)
    line = [ln for ln in stderr.splitlines() if ln.startswith("diffkit: error:")]
    assert code == 2 and "Traceback" not in stderr and len(line) == 1, stderr
    assert all(w in line[0] for w in words), line
    assert not (tmp_path / "out" / "s0").exists()  # no run dir made


def test_traceback_switches(run: Path, tmp_path: Path, capsys, monkeypatch) -> None:  # noqa: F811
    too_long = ["train", *TINY, f"run.dir={tmp_path / ('r' * 300)}"]  # a runtime OSError (exit 1)
    for on in (["--traceback"], []):
        monkeypatch.setenv("DIFFKIT_TRACEBACK", "" if on else "1")
        code, stderr = call(capsys, *on, *too_long)
        assert code == 1 and "Traceback (most recent call last)" in stderr, stderr
        assert stderr.strip().splitlines()[-1].startswith("diffkit: error: ") and "File name too long" in stderr
    for off in ("0", "false", ""):
        monkeypatch.setenv("DIFFKIT_TRACEBACK", off)
        code, stderr = call(capsys, *too_long)
        assert code == 1 and "File name too long" in one_line(stderr)


def test_resume_with_an_override_equal_to_what_it_was_trained_with_is_no_change(run: Path, capsys) -> None:  # noqa: F811
    code, stderr = call(
        capsys, "train", "--resume", run, "scheduler.prediction_type=eps", "scheduler.num_timesteps=50", "train.steps=5"
    )
    assert code == 0, stderr
    (entry,) = rundir.read_json(run / rundir.HISTORY)["resumes"]
    assert entry["changed"] == {"train.steps": {"before": 4, "after": 5}}  # the scheduler keys are no change
    code, stderr = call(capsys, "train", "--resume", run, "scheduler.prediction_type=v", "train.steps=6")
    assert code == 2 and "scheduler.prediction_type='v'" in one_line(stderr)  # a real change still is one


def test_resume_of_an_edm_run_with_its_default_sigma_data_is_no_change(tmp_path: Path, capsys) -> None:
    run_dir = tmp_path / "edm"
    code, stderr = call(
        capsys,
        "train",
        *TINY_ANY,
        "scheduler.name=edm",
        "train.steps=2",
        "train.checkpoint_every=2",
        f"run.dir={run_dir}",
    )
    assert code == 0, stderr
    code, stderr = call(
        capsys, "train", "--resume", run_dir, "scheduler.sigma_data=0.5", "scheduler.rho=7", "train.steps=3"
    )
    assert code == 0, stderr
    assert not any(
        k.startswith("scheduler.") for e in rundir.read_json(run_dir / rundir.HISTORY)["resumes"] for k in e["changed"]
    )
    code, stderr = call(capsys, "train", "--resume", run_dir, "scheduler.sigma_data=0.25")
    line = one_line(stderr)
    assert code == 2 and "scheduler.sigma_data=0.25" in line and "trained with scheduler.sigma_data=0.5" in line


def test_karras_spacing_on_a_discrete_chain_records_the_steps_that_ran(run: Path, capsys, plugins) -> None:  # noqa: F811
    """On T=50 the karras grid of 50 levels puts several on one timestep: 33 distinct ones run."""
    import torch

    scheduler = plugins.registry.build("scheduler", {"name": "linear", "num_timesteps": 50}, where="scheduler")
    sampler = plugins.registry.build("sampler", {"name": "ddim", "spacing": "karras"}, where="sampler")
    calls = []
    sampler.sample(
        lambda x, t, *a, **k: calls.append(t) or torch.zeros_like(x), scheduler, torch.randn(1, 1, 4, 4), steps=50
    )
    distinct = len(discrete_timesteps(scheduler.alphas_cumprod.tolist(), 50, "karras"))
    assert len(calls) == distinct == sampler.steps_run(scheduler, 50) < 50
    code, stderr = call(
        capsys,
        "eval",
        run,
        "-p",
        "tests.sweep_plugin",
        "--num",
        4,
        "--metric",
        "count",
        "--steps",
        50,
        "sampler.name=ddim",
        "sampler.spacing=karras",
    )
    assert code == 0, stderr
    assert rundir.read_json(run / rundir.METRICS)["eval/sampling_steps"] == distinct


def _wait_for(check: Callable[[], bool], proc: subprocess.Popen, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.05)


def test_sigterm_during_sample_leaves_no_temporary_file(run: Path, tmp_path: Path) -> None:  # noqa: F811
    out = tmp_path / "x.npz"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "diffkit",
            "sample",
            str(run),
            "--num",
            "100000",
            "--batch-size",
            "64",
            "--out",
            str(out),
        ],
        env=cli_env(),
        stderr=subprocess.PIPE,
        text=True,
    )
    _wait_for(lambda: bool(list(tmp_path.glob(".x.npz.*.tmp"))), proc)  # it writes batch by batch
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGTERM
    assert one_line(stderr) == "diffkit: error: interrupted: SIGTERM"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]  # no x.npz, no .x.npz.*.tmp


def test_sigterm_of_a_sweep_is_one_line_and_its_run_saves(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "s.yaml",
        yaml.safe_dump(
            {
                "base": str(REPO / "configs/default.yaml"),
                "grid": {"seed": [0]},
                "dir": str(tmp_path / "out"),
                "overrides": {
                    k: yaml.safe_load(v)
                    for k, v in (a.split("=", 1) for a in [*TINY, "train.steps=100000", "train.checkpoint_every=1"])
                },
            }
        ),
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "diffkit", "sweep", str(path)],
        env=cli_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    status = tmp_path / "out" / "s0" / rundir.STATUS
    _wait_for(lambda: bool(list(status.parent.glob("checkpoints/step_*.pt"))), proc)  # past its start-up
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signal.SIGTERM and "Traceback" not in stderr
    said = [ln for ln in stderr.splitlines() if "SIGTERM" in ln]
    assert said == [f"diffkit sweep: interrupted by SIGTERM; re-run to continue: diffkit sweep {path}"], stderr
    assert rundir.read_json(status)["status"] == "interrupted"  # passed on to the run, which saved
