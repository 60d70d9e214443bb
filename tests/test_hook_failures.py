"""A plugin's failing hook is named in one line; ``run.on_hook_error`` can switch a
tracker off instead; plugin state is versioned; the example CSV logger keeps the
evaluation rows across ``--resume``."""

from __future__ import annotations

import csv
import json
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from diffkit import checkpoint as ckpt
from diffkit.cli.main import main
from tests.conftest import REPO, TINY, error_lines

FLAKY = """
    from diffkit import hookimpl

    DIFFKIT_STATE_VERSION = 3

    @hookimpl
    def diffkit_run_start(run):
        if run.config["seed"] == 8:
            raise RuntimeError("cannot open the dashboard")

    @hookimpl
    def diffkit_log(run, step, metrics):
        if run.config["seed"] == 7:
            raise OSError("tracker server unreachable")
        with (run.dir / "flaky.txt").open("a") as f:
            f.write(f"{step}\\n")

    @hookimpl
    def diffkit_checkpoint_save(run, state):
        state["flaky"] = {"layout": "new"}

    @hookimpl
    def diffkit_checkpoint_load(run, state, version):
        (run.dir / "flaky_version.json").write_text(__import__("json").dumps(version))
        state["flaky"]["old_key"]  # meets a state it cannot read

    @hookimpl
    def diffkit_run_end(run, status):
        (run.dir / "flaky_end.txt").write_text(status)
"""

#: a metric that needs no features: mean brightness of the fakes.
MEAN_METRIC = """
    from diffkit import Metric, hookimpl

    class Mean(Metric):
        def compute(self, real, fake):
            return {"mean": float(fake.mean())}

    @hookimpl
    def diffkit_register_components(registry):
        registry.add("metric", "test_mean", Mean)
"""


@pytest.fixture
def modules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """`flaky`, `mean_metric` and the example package importable for -p."""
    src = tmp_path / "src"
    src.mkdir()
    (src / "flaky.py").write_text(textwrap.dedent(FLAKY))
    (src / "mean_metric.py").write_text(textwrap.dedent(MEAN_METRIC))
    monkeypatch.syspath_prepend(str(src))
    monkeypatch.syspath_prepend(str(REPO / "plugins" / "example"))
    yield tmp_path
    for name in ("flaky", "mean_metric"):
        sys.modules.pop(name, None)


def test_a_failing_hook_is_named_in_one_line(modules: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = modules / "run"
    assert main(["train", *TINY, "-p", "flaky", "seed=7", f"run.dir={run}"]) == 1
    err = error_lines(capsys.readouterr().err)
    assert err == [
        "diffkit: error: plugin 'flaky' failed in diffkit_log: OSError: tracker server unreachable; "
        f"saved step 2 in {run} (full traceback: --traceback or DIFFKIT_TRACEBACK=1)",
    ]
    # the steps done are saved (log at step 2 came before the checkpoint of step 2), the run is
    # marked failed, and the failing plugin is not called again (not even diffkit_run_end)
    assert json.loads((run / "status.json").read_text()) == {"status": "failed", "step": 2}
    assert ckpt.load(run / "checkpoints" / "last.pt")["step"] == 2
    assert not (run / "flaky_end.txt").exists()


def test_traceback_flag_shows_the_plugin_frame(modules: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--traceback", "train", *TINY, "-p", "flaky", "seed=8", f"run.dir={modules / 'run'}"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and "flaky.py" in err and 'raise RuntimeError("cannot open the dashboard")' in err
    assert err.strip().splitlines()[-1] == (
        "diffkit: error: plugin 'flaky' failed in diffkit_run_start: RuntimeError: cannot open the dashboard"
    )


def test_warn_policy_switches_the_tracker_off_and_training_goes_on(
    modules: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = modules / "run"
    assert main(["train", *TINY, "-p", "flaky", "seed=7", "run.on_hook_error.flaky=warn", f"run.dir={run}"]) == 0
    err = capsys.readouterr().err
    assert err.count("diffkit: warning: plugin 'flaky' failed in diffkit_log: OSError") == 1
    assert "switched off for the rest of this run (run.on_hook_error.flaky=warn)" in err
    assert json.loads((run / "status.json").read_text())["status"] == "completed"
    assert not (run / "flaky_end.txt").exists()
    assert main(["config", "run.on_hook_error.flaky=ignore"]) == 2
    assert (
        "run.on_hook_error={'flaky': 'ignore'} is not allowed; use {PLUGIN: raise or warn}" in capsys.readouterr().err
    )


def test_state_versions_and_a_failing_load_hook(modules: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = modules / "run"
    assert main(["train", *TINY, "-p", "flaky", f"run.dir={run}"]) == 0
    state = ckpt.load(run / "checkpoints" / "last.pt")["plugins"]
    assert state["flaky"] == {"layout": "new"} and state["_versions"]["flaky"] == 3
    capsys.readouterr()
    assert main(["train", "--resume", str(run), "train.steps=8", "-p", "flaky"]) == 1
    assert error_lines(capsys.readouterr().err) == [
        "diffkit: error: plugin 'flaky' failed in diffkit_checkpoint_load: KeyError: 'old_key' "
        "(full traceback: --traceback or DIFFKIT_TRACEBACK=1)"
    ]
    assert json.loads((run / "flaky_version.json").read_text()) == 3
    assert json.loads((run / "status.json").read_text()) == {"status": "completed", "step": 6}  # untouched


def test_csv_rows_survive_a_resume_that_follows_an_evaluation(modules: Path) -> None:
    run = modules / "run"
    plugins = ["-p", "diffkit_example.csv_logger", "-p", "mean_metric", "-p", "no:tensorboard"]
    evaluation = ["eval.metrics=[test_mean]", "eval.num_samples=4", "eval.batch_size=4", "eval.steps=2"]
    assert main(["train", *TINY, *plugins, *evaluation, f"run.dir={run}"]) == 0
    with (run / "metrics.csv").open("a") as f:
        f.write("7,train/loss,123.0\n")  # written after the last checkpoint, as before a crash
    assert main(["train", "--resume", str(run), "train.steps=8", *plugins]) == 0
    with (run / "metrics.csv").open() as f:
        rows = [(int(r["step"]), r["name"]) for r in csv.DictReader(f)]
    assert [s for s, n in rows if n == "train/loss"] == [2, 4, 6, 8]
    assert [s for s, n in rows if n == "eval/mean"] == [6, 8]


def test_hooks_run_in_pluggy_order_and_wrappers_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    from types import SimpleNamespace

    from diffkit import hookimpl, load_plugins

    calls: list[str] = []
    first = SimpleNamespace(diffkit_run_start=hookimpl(tryfirst=True)(lambda run: calls.append("first")))
    plain = SimpleNamespace(diffkit_run_start=hookimpl(lambda run: calls.append("plain")))
    plugins = load_plugins(["no:tensorboard"], autoload=False)
    plugins.pm.register(first, name="first")
    plugins.pm.register(plain, name="plain")
    assert plugins.hooks().diffkit_run_start(run=None) == [] and calls == ["first", "plain"]
    hooks = plugins.hooks({"nope": "warn"})
    assert "run.on_hook_error names 'nope', which is not a loaded plugin" in capsys.readouterr().err
    assert hooks.diffkit_run_start(run=None) == [] and calls[2:] == ["first", "plain"]

    from diffkit.plugin_checks import wrappers

    wrapper = SimpleNamespace(diffkit_run_start=hookimpl(wrapper=True)(lambda run: (yield)))
    plugins.pm.register(wrapper, name="wrapper")
    assert wrappers(plugins.pm, wrapper) == (
        "hook wrappers are not supported (diffkit_run_start); implement the hook plainly"
    )
