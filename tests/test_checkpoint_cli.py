"""`diffkit sample` and `diffkit train --resume` refuse unsafe or damaged checkpoints
with one line naming the file, exit code 2, and nothing executed.

One case runs the command in a subprocess; the others call the same entry point,
``diffkit.cli.main.main``, in this process (a subprocess costs seconds of imports).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from omegaconf import OmegaConf

from diffkit.cli.main import main
from diffkit.config import compose
from diffkit.runner import rundir
from diffkit.runner.train import train
from tests.conftest import TINY, run_cli
from tests.test_checkpoint import malicious_checkpoint


def _run_dir(tmp_path: Path) -> Path:
    """A run directory as training leaves it: a config and a checkpoints folder."""
    run_dir = tmp_path / "run"
    (run_dir / rundir.CHECKPOINTS).mkdir(parents=True)
    config = compose(None, [*TINY, f"run.dir={run_dir}"]).cfg
    (run_dir / rundir.CONFIG).write_text(OmegaConf.to_yaml(config))
    return run_dir


class Result:
    def __init__(self, returncode: int, stderr: str) -> None:
        self.returncode, self.stderr = returncode, stderr


def cli(capsys, *args: str) -> Result:
    """Run ``diffkit ARGS`` in this process; the exit code and stderr."""
    capsys.readouterr()
    code = main(list(args))
    return Result(code, capsys.readouterr().err)


def _one_line_error(proc) -> str:
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert lines[0].startswith("diffkit: error: ")
    return lines[0]


@pytest.mark.parametrize("command", ["sample", "sample --checkpoint", "resume"])
def test_malicious_checkpoint_is_refused_and_runs_nothing(tmp_path: Path, capsys, command: str) -> None:
    run_dir = _run_dir(tmp_path)
    marker = tmp_path / "PWNED"
    evil = malicious_checkpoint(run_dir / rundir.CHECKPOINTS / "step_0000003.pt", marker)
    if command == "resume":
        args = ["train", "--resume", str(run_dir)]
    else:
        args = ["sample", str(run_dir), "--out", str(tmp_path / "grid.png")]
        if command.endswith("--checkpoint"):
            evil = evil.rename(tmp_path / "downloaded.pt")
            args += ["--checkpoint", str(evil)]
    proc = run_cli(*args, check=False) if command == "sample" else cli(capsys, *args)
    line = _one_line_error(proc)
    assert f"refused to load {evil}: it would load " in line
    assert not marker.exists()
    assert not (tmp_path / "grid.png").exists()


@pytest.mark.parametrize("command", ["sample", "resume"])
def test_truncated_checkpoint_is_named(tmp_path: Path, capsys, command: str) -> None:
    run_dir = _run_dir(tmp_path)
    damaged = tmp_path / "half.pt"
    damaged.write_bytes(b"PK\x03\x04" + b"\x00" * 100)
    if command == "sample":
        line = _one_line_error(
            cli(capsys, "sample", str(run_dir), "--checkpoint", str(damaged), "--out", str(tmp_path / "x.png"))
        )
        assert (
            line == f"diffkit: error: {damaged} is truncated or corrupt: not a complete PyTorch archive "
            "(File is not a zip file)"
        )
    else:  # the only checkpoint is damaged: resume says so and names it on the warning line
        damaged.rename(run_dir / rundir.CHECKPOINTS / "last.pt")
        proc = cli(capsys, "train", "--resume", str(run_dir))
        assert proc.returncode == 2 and "Traceback" not in proc.stderr
        assert f"skipping {run_dir / rundir.CHECKPOINTS / 'last.pt'} is truncated or corrupt" in proc.stderr
        assert proc.stderr.strip().splitlines()[-1] == (
            f"diffkit: error: no loadable checkpoint in {run_dir / rundir.CHECKPOINTS} to resume from"
        )


@pytest.mark.parametrize("command", ["sample", "resume"])
def test_checkpoint_that_does_not_fit_the_overridden_model_is_named(
    tmp_path: Path, capsys, plugins, command: str
) -> None:
    run_dir = tmp_path / "run"
    train(compose(None, [*TINY, "train.steps=1", f"run.dir={run_dir}"], plugins.registry), plugins)
    last = run_dir / rundir.CHECKPOINTS / "step_0000001.pt"
    if command == "sample":
        args = ["sample", str(run_dir), "denoiser.channels=[4,8]", "--out", str(tmp_path / "x.png"), "--allow-changes"]
    else:
        args = ["train", "--resume", str(run_dir), "denoiser.channels=[4,8]", "train.steps=2", "--allow-changes"]
    line = _one_line_error(cli(capsys, *args))
    assert line.startswith(f"diffkit: error: {last} does not fit the model built from the config")
    assert "size mismatch for conv0.weight" in line
