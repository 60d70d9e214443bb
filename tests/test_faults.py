"""Fault injection: every fault a user can meet ends in one line (exit 2 for usage, 1
for runtime faults, no traceback), and no file of the run is lost or changed.

Each case runs ``diffkit.cli.main.main`` in this process on a copy of one tiny trained
run holding a file of the user's; a subprocess only where the process is the point
(a file-size limit, a second process holding the lock, a closed stdout pipe).
"""

from __future__ import annotations

import hashlib
import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from diffkit import checkpoint as ckpt
from diffkit.cli.main import main
from diffkit.config import compose
from diffkit.runner import rundir
from diffkit.runner import setup as runner_setup
from diffkit.runner.scores import merge_scores
from diffkit.runner.train import train
from tests.conftest import TINY, cli_env

USER_FILE = "notes.txt"


@pytest.fixture(scope="module")
def trained(plugins, tmp_path_factory) -> Path:
    run_dir = tmp_path_factory.mktemp("faults") / "trained"
    train(
        compose(None, [*TINY, "train.steps=4", "train.checkpoint_every=2", f"run.dir={run_dir}"], plugins.registry),
        plugins,
    )
    (run_dir / USER_FILE).write_text("the user's own notes\n")
    return run_dir


@pytest.fixture
def run(trained: Path, tmp_path: Path) -> Path:
    """A fresh copy of the trained run (with the user's file) for one test to damage."""
    return Path(shutil.copytree(trained, tmp_path / "run", symlinks=True))


def digest(directory: Path) -> dict[str, str]:
    return {
        str(p.relative_to(directory)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


def call(capsys, *args: str) -> tuple[int, str]:
    """``diffkit ARGS`` in this process: the exit code and stderr."""
    capsys.readouterr()
    code = main([str(a) for a in args])
    return code, capsys.readouterr().err


def one_line(stderr: str) -> str:
    """The one error line of `stderr` (the config checks' warning lines aside)."""
    lines = [line for line in stderr.splitlines() if line.strip() and not line.startswith("diffkit: warning:")]
    assert "Traceback" not in stderr, stderr
    assert len(lines) == 1, stderr
    return lines[0]


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


BILLION_LAUGHS = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{n}: &{n} [{', '.join([f'*{p}'] * 9)}]\n" for p, n in zip("abcdefgh", "bcdefghi")
)

#: (id, arguments given the run dir and a scratch dir, exit code, words the one line must hold)
Case = tuple[str, Callable[[Path, Path], list], int, list[str]]
CASES: list[Case] = [
    # -- options and resource bounds
    ("out-is-a-directory", lambda r, t: ["sample", r, "--out", t], 2, ["--out", "is a directory"]),
    (
        "out-name-too-long",
        lambda r, t: ["sample", r, "--num", 1, "--out", t / ("x" * 300 + ".npz")],
        1,
        ["File name too long", "x" * 300],
    ),
    (
        "run-dir-name-too-long",
        lambda r, t: ["train", *TINY, f"run.dir={t / ('r' * 300)}"],
        1,
        ["File name too long", "r" * 300],
    ),
    ("seed-beyond-64-bits", lambda r, t: ["sample", r, "--out", t / "a.npz", "--seed", 2**64], 2, ["--seed"]),
    ("eval-seed-negative", lambda r, t: ["eval", r, "--seed", -1], 2, ["--seed -1"]),
    ("guidance-nan", lambda r, t: ["sample", r, "--out", t / "a.npz", "--guidance", "nan"], 2, ["--guidance nan"]),
    ("guidance-inf", lambda r, t: ["sample", r, "--out", t / "a.npz", "--guidance", "inf"], 2, ["--guidance inf"]),
    (
        "sample-device",
        lambda r, t: ["sample", r, "--out", t / "a.npz", "--device", "gpu"],
        2,
        ["--device gpu is not a device"],
    ),
    ("num-too-large", lambda r, t: ["sample", r, "--out", t / "a.npz", "--num", 10**9], 2, ["--num"]),
    (
        "batch-beyond-memory",
        lambda r, t: ["sample", r, "--out", t / "a.npz", "--batch-size", 10**12],
        2,
        ["--batch-size", "needs about", "GiB", "available"],
    ),
    (
        "image-size-bound",
        lambda r, t: ["train", *TINY, "data.image_size=100000", f"run.dir={t / 'new'}"],
        2,
        ["data.image_size=100000"],
    ),
    (
        "timesteps-bound",
        lambda r, t: ["train", *TINY, "scheduler.num_timesteps=1000000000", f"run.dir={t / 'new'}"],
        2,
        ["scheduler.num_timesteps=1000000000"],
    ),
    # -- hostile or malformed inputs
    (
        "duplicate-yaml-key",
        lambda r, t: ["train", _write(t / "c.yaml", "train:\n  steps: 5\n  steps: 6\n")],
        2,
        ["c.yaml:3", "duplicate key 'steps'", "line 2"],
    ),
    ("billion-laughs", lambda r, t: ["config", _write(t / "lol.yaml", BILLION_LAUGHS)], 2, ["lol.yaml", "expands"]),
    ("name-not-a-string", lambda r, t: ["train", *TINY, "loss.name=[1, 2]"], 2, ["loss.name", "must be a string"]),
    (
        "status-json-a-list",
        lambda r, t: [_write(r / rundir.STATUS, "[1, 2]\n") and "train", "--resume", r],
        2,
        ["status.json", "holds a JSON list"],
    ),
    (
        "metrics-json-malformed",
        lambda r, t: [_write(r / rundir.METRICS, "{oops") and "eval", r, "--num", 4],
        2,
        ["metrics.json", "not valid JSON"],
    ),
    ("plugin-name-keyword", lambda r, t: ["new-plugin", "class", "--dir", t], 2, ["'class'", "keyword"]),
    (
        "plugin-dir-a-file",
        lambda r, t: ["new-plugin", "my-loss", "--dir", _write(t / "f", "")],
        2,
        ["--dir", "is a file"],
    ),
    # -- metrics: counts they cannot use, resources checked before the work
    ("fid-one-image", lambda r, t: ["eval", r, "--num", 1, "--metric", "fid"], 2, ["--num 1", "fid", "at least 2"]),
    (
        "pr-k-images",
        lambda r, t: ["eval", r, "--num", 3, "--metric", "precision_recall"],
        2,
        ["--num 3", "precision_recall", "at least 4"],
    ),
    (
        "inception-weights-before-training",
        lambda r, t: [
            "train",
            *TINY,
            f"run.dir={t / 'new'}",
            f"eval.metrics=[{{name: fid, features: inception, weights: {t / 'nope.pt'}}}]",
        ],
        2,
        ["weights=", "nope.pt", "not found"],
    ),
    # -- resume
    (
        "resume-changes-T",
        lambda r, t: ["train", "--resume", r, "scheduler.num_timesteps=60"],
        2,
        ["scheduler.num_timesteps=60", "was trained with scheduler.num_timesteps=50", "--allow-changes"],
    ),
    (
        "resume-changes-denoiser",
        lambda r, t: ["train", "--resume", r, "denoiser.channels=[4,8]"],
        2,
        ["denoiser.channels", "--allow-changes"],
    ),
    ("resume-changes-data", lambda r, t: ["train", "--resume", r, "data.name=fashion_mnist"], 2, ["data.name"]),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_fault_is_one_line_and_the_run_is_untouched(case: Case, run: Path, tmp_path: Path, capsys) -> None:
    _, make_args, code, words = case
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    args = make_args(run, scratch)  # may plant a bad file in the run
    before = digest(run)
    got, stderr = call(capsys, *args)
    line = one_line(stderr)
    assert got == code, line
    assert line.startswith("diffkit: error: ")
    for word in words:
        assert word in line, (word, line)
    assert digest(run) == before
    assert not (scratch / "new").exists()  # nothing half-made either


def test_cache_dir_that_is_a_file_fails_before_sampling(run: Path, tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("DIFFKIT_CACHE_DIR", str(_write(tmp_path / "cache", "")))
    before = digest(run)
    code, stderr = call(capsys, "eval", run, "--num", 4, "--metric", "fid")
    assert code == 2 and f"{tmp_path / 'cache'} is a file" in one_line(stderr)
    assert digest(run) == before


def test_decompression_bomb_names_the_file(tmp_path: Path, capsys, monkeypatch) -> None:
    from PIL import Image

    (tmp_path / "images").mkdir()
    Image.new("L", (16, 16)).save(tmp_path / "images" / "big.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # PIL refuses > 2x this: the 256 pixels here
    code, stderr = call(
        capsys,
        "train",
        *TINY,
        "data.name=image_folder",
        f"data.root={tmp_path / 'images'}",
        f"run.dir={tmp_path / 'run'}",
    )
    line = one_line(stderr)
    assert code == 2 and f"refused image {tmp_path / 'images' / 'big.png'}" in line and "decompression bomb" in line
    assert not (tmp_path / "run").exists()


def test_read_only_run_dir(run: Path, capsys) -> None:
    """Root ignores permissions; the immutable attribute (chattr +i) stops root too."""
    before = digest(run)
    if os.geteuid() == 0:
        if subprocess.run(["chattr", "+i", str(run)], capture_output=True).returncode != 0:
            pytest.skip("running as root without chattr: cannot make a directory read-only")
        undo = ["chattr", "-i", str(run)]
    else:
        run.chmod(0o555)
        undo = ["chmod", "755", str(run)]
    try:
        code, stderr = call(capsys, "train", "--resume", run, "train.steps=6")
    finally:
        subprocess.run(undo, check=True)
    line = one_line(stderr)
    assert code == 1 and str(run) in line and ("Operation not permitted" in line or "Permission denied" in line)
    assert digest(run) == before


def _limit_file_size() -> None:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead of killing
    resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, 100_000))


def test_full_disk_fails_the_run_and_keeps_the_last_good_checkpoint(run: Path) -> None:
    """A disk that fills up is simulated with RLIMIT_FSIZE in the child: the checkpoint
    (~190 KB) cannot be written (EFBIG), while the small status file still can."""
    checkpoints = digest(run / rundir.CHECKPOINTS)
    proc = subprocess.run(
        [sys.executable, "-m", "diffkit", "train", "--resume", str(run), "train.steps=6"],
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=300,
        preexec_fn=_limit_file_size,
    )
    line = one_line(proc.stderr)
    assert proc.returncode == 1, line
    assert "File too large; free some space and resume" in line and "step_0000006.pt" in line
    assert rundir.read_json(run / rundir.STATUS)["status"] == "failed"
    assert digest(run / rundir.CHECKPOINTS) == checkpoints
    assert ckpt.load(run / rundir.CHECKPOINTS / "last.pt")["step"] == 4
    assert (run / USER_FILE).read_text() == "the user's own notes\n"
    assert not list(run.rglob(".*.tmp"))


def test_one_writer_and_readers_while_training(run: Path, tmp_path: Path, capsys) -> None:
    """A resumed run holds the lock: a second --resume exits 2 naming it; `sample` reads
    checkpoints that the run rotates away (keep_checkpoints=1) without failing."""
    writer = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "diffkit",
            "train",
            "--resume",
            str(run),
            "train.steps=100000",
            "train.checkpoint_every=1",
            "run.keep_checkpoints=1",
        ],
        env=cli_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while ckpt.load_latest(run / rundir.CHECKPOINTS)[1]["step"] < 5:
            assert writer.poll() is None and time.monotonic() < deadline, writer.communicate()
            time.sleep(0.05)
        code, stderr = call(capsys, "train", "--resume", run)
        line = one_line(stderr)
        assert code == 2
        assert f"is being written by pid {writer.pid} on {socket.gethostname()}" in line
        for i in range(2):
            code, stderr = call(capsys, "sample", run, "--num", 2, "--out", tmp_path / f"s{i}.npz")
            assert code == 0, stderr
            assert "warning" not in stderr
            assert np.load(tmp_path / f"s{i}.npz")["arr_0"].shape == (2, 8, 8, 1)
    finally:
        writer.send_signal(signal.SIGTERM)
        writer.wait(timeout=120)
    assert writer.returncode == 128 + signal.SIGTERM
    assert rundir.read_json(run / rundir.STATUS)["status"] == "interrupted"
    assert (run / ".lock").read_text() == ""  # released


def test_stale_lock_of_a_dead_process_is_taken_over(run: Path, capsys) -> None:
    (run / ".lock").write_text(json.dumps({"pid": 2**22 + 1, "host": socket.gethostname(), "command": "x"}))
    code, stderr = call(capsys, "train", "--resume", run)
    assert code == 0
    assert f"took over the lock of pid {2**22 + 1}" in stderr


def test_allow_changes_resumes_and_records_the_change(run: Path, capsys) -> None:
    code, stderr = call(
        capsys, "train", "--resume", run, "scheduler.num_timesteps=60", "train.steps=5", "--allow-changes"
    )
    assert code == 0, stderr
    (entry,) = rundir.read_json(run / rundir.HISTORY)["resumes"]
    assert entry["step"] == 4 and entry["allow_changes"] is True
    assert entry["changed"]["scheduler.num_timesteps"] == {"before": 50, "after": 60}
    assert entry["changed"]["train.steps"] == {"before": 4, "after": 5}


def _signal_self(*signums: int, after: bool = False) -> Callable:
    """Wrap a function so that this process gets `signums` before (or `after`) it runs."""

    def send() -> None:
        for signum in signums:
            os.kill(os.getpid(), signum)
            time.sleep(0.01)  # the handler runs between bytecodes of the main thread

    def wrap(original: Callable) -> Callable:
        def call_with_signals(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
            if not after:
                send()
            out = original(*args, **kwargs)
            if after:
                send()
            return out

        return call_with_signals

    return wrap


@pytest.mark.parametrize(
    "signums",
    [(signal.SIGINT,), (signal.SIGINT, signal.SIGINT), (signal.SIGTERM,)],
    ids=["ctrl-c", "double-ctrl-c", "sigterm"],
)
def test_signal_during_start_up_leaves_no_run_dir(signums: tuple, tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.setattr(runner_setup, "build_dataset", _signal_self(*signums)(runner_setup.build_dataset))
    code, stderr = call(capsys, "train", *TINY, f"run.dir={tmp_path / 'run'}")
    assert code == 130
    name = signal.Signals(signums[0]).name
    assert one_line(stderr) == f"diffkit: error: interrupted: {name} during start-up, before the first step"
    assert not (tmp_path / "run").exists()


def test_signal_right_after_the_run_dir_is_made_leaves_a_resumable_run(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.setattr(rundir, "create", _signal_self(signal.SIGINT, after=True)(rundir.create))
    run = tmp_path / "run"
    code, stderr = call(capsys, "train", *TINY, f"run.dir={run}")
    assert code == 130 and "SIGINT during start-up" in one_line(stderr)
    assert rundir.read_json(run / rundir.STATUS)["status"] == "created"
    monkeypatch.undo()
    code, stderr = call(capsys, "train", "--resume", run)
    assert code == 0, stderr
    assert rundir.read_json(run / rundir.STATUS) == {"status": "completed", "step": 6}


def test_a_run_without_a_checkpoint_restarts_in_place(tmp_path: Path, capsys) -> None:
    from omegaconf import OmegaConf

    run = tmp_path / "run"
    cfg = compose(None, [*TINY, f"run.dir={run}"]).cfg
    rundir.create(str(run), files={rundir.CONFIG: OmegaConf.to_yaml(cfg), USER_FILE: "mine\n"})
    code, stderr = call(capsys, "train", "--resume", run)
    assert code == 0, stderr
    assert rundir.read_json(run / rundir.STATUS) == {"status": "completed", "step": 6}
    assert (run / USER_FILE).read_text() == "mine\n"


def test_files_respect_the_umask(run: Path, tmp_path: Path, capsys) -> None:
    old = os.umask(0o002)
    try:
        code, stderr = call(capsys, "sample", run, "--num", 2, "--out", tmp_path / "a.npz")
        made = rundir.create(str(tmp_path / "new"), files={"x": "y"})
    finally:
        os.umask(old)
    assert code == 0, stderr
    assert (tmp_path / "a.npz").stat().st_mode & 0o777 == 0o664
    assert made.stat().st_mode & 0o777 == 0o775


def test_closed_stdout_pipe_is_quiet() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "diffkit", "plugins", "-v"],
        env=cli_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    proc.stdout.close()  # like `| head` that has read its lines
    stderr = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 141
    assert stderr == ""


def test_nan_never_replaces_a_finite_stored_metric(capsys) -> None:
    merged = merge_scores(
        {"eval/fid": 3.5, "eval/recall": float("nan")},
        {"eval/fid": float("nan"), "eval/recall": 0.5, "eval/precision": float("nan")},
    )
    assert merged["eval/fid"] == 3.5 and merged["eval/recall"] == 0.5
    assert np.isnan(merged["eval/precision"])  # nothing finite to keep
    assert "eval/fid is NaN; kept the stored value 3.5" in capsys.readouterr().err


def test_sample_falls_back_when_the_newest_checkpoint_is_rotated_away(
    run: Path, tmp_path: Path, capsys, monkeypatch
) -> None:
    """The worst moment of a training run's rotation (keep_checkpoints=1): the newest file
    is deleted between listing and loading. `sample` loads the next one, silently."""
    newest = ckpt.numbered(run / rundir.CHECKPOINTS)[-1]
    real_load = ckpt.load

    def rotated_then_load(path: Path, *args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        if Path(path) == newest:
            newest.unlink(missing_ok=True)
        return real_load(path, *args, **kwargs)

    monkeypatch.setattr(ckpt, "load", rotated_then_load)
    code, stderr = call(capsys, "sample", run, "--num", 2, "--out", tmp_path / "a.npz")
    assert code == 0, stderr
    assert "warning" not in stderr and "step_0000002.pt (step 2" in stderr
