"""``diffkit train ... train.budget=4s`` end to end on digits: it plans after warm-up, stops at
the plan with its lr schedule ended, records the plan, and a resumed run keeps it."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from diffkit import checkpoint as ckpt
from diffkit import hookimpl, load_plugins
from diffkit.cli.main import main
from diffkit.config import compose
from diffkit.runner import rundir
from diffkit.runner.budget import MEASURE, SKIP
from diffkit.runner.train import train
from tests.conftest import TINY, run_cli

#: TINY without its train.steps (a budget on the same command line would be refused), cosine lr.
BUDGETED = [o for o in TINY if not o.startswith("train.steps=")] + [
    "train.checkpoint_every=0",
    "optim.lr_schedule=cosine",
    "optim.warmup_fraction=0.1",
    "train.device=cpu",
]


def last_checkpoint(run: Path) -> dict[str, Any]:
    found = ckpt.load_latest(run / rundir.CHECKPOINTS)
    assert found is not None
    return found[1]


@pytest.mark.slow
def test_a_time_budget_plans_stops_on_its_plan_and_records_it(tmp_path: Path):
    run = tmp_path / "run"
    proc = run_cli("train", *BUDGETED, "train.budget=4s", f"run.dir={run}")
    assert "replaces" not in proc.stderr  # the default train.steps gives way without a note
    status = rundir.read_json(run / rundir.STATUS)
    plan = status["plan"]
    assert status["status"] == "completed" and status["step"] == plan["steps"] == plan["planned_steps"]
    assert plan["planned_at"] >= SKIP + MEASURE and plan["planned_steps"] > plan["planned_at"]
    assert plan["budget"] == "4s" and plan["kind"] == "seconds" and plan["images"] == 16 * plan["steps"]
    assert 0 < plan["seconds"] < 3 * 4  # the stop itself is timed by benchmarks.budget, not on a shared CI box
    metrics = rundir.read_json(run / rundir.METRICS)
    assert metrics["train/planned_steps"] == plan["steps"] and metrics["train/seconds"] == plan["seconds"]
    state = last_checkpoint(run)
    assert state["step"] == plan["steps"] and state["budget"]["total"] == plan["steps"]
    assert all(g["lr"] == pytest.approx(0.0, abs=1e-12) for g in state["optimizer"]["param_groups"])  # cosine ended
    assert state["lr_schedule"]["last_epoch"] == plan["steps"]
    assert (run / rundir.SAMPLES / f"step_{plan['steps']:07d}.png").is_file()  # the final grid, as usual
    assert compose(None, [], base=state["config"]).cfg.train.steps is None  # config.yaml: the budget ran it


@pytest.mark.slow
def test_an_image_budget_trains_exactly_its_steps(tmp_path: Path, capsys):
    run = tmp_path / "run"
    assert main(["train", *BUDGETED, "train.budget=160img", f"run.dir={run}"]) == 0
    status = rundir.read_json(run / rundir.STATUS)
    assert status["step"] == 10 and status["plan"]["planned_steps"] == 10 and "planned_at" not in status["plan"]


class StopAfterPlanning:
    """Sends this process SIGINT at the first log after the plan was fixed and checked (past
    SKIP + MEASURE steps and 3 s after the first log: the speed is timed over 5 % of the 8 s
    budget, 0.4 s, and checked a fifth of the rest later, about 1.9 s): the run saves and stops."""

    def __init__(self) -> None:
        self.sent = False
        self.first: float | None = None

    @hookimpl
    def diffkit_log(self, run: Any, step: int, metrics: dict[str, float]) -> None:
        self.first = self.first if self.first is not None else time.perf_counter()
        if step > SKIP + MEASURE and time.perf_counter() - self.first > 3.0 and not self.sent:
            self.sent = True
            os.kill(os.getpid(), signal.SIGINT)


@pytest.mark.slow
def test_a_resumed_budget_run_continues_the_same_plan(tmp_path: Path, capsys):
    run = tmp_path / "run"
    plugins = load_plugins(autoload=False)
    plugins.pm.register(StopAfterPlanning())
    train(compose(None, [*BUDGETED, "train.budget=8s", f"run.dir={run}"], plugins.registry), plugins)
    stopped = rundir.read_json(run / rundir.STATUS)
    assert stopped["status"] == "interrupted", "the budget ended before the plan was fixed: too slow a machine"
    plan = stopped["plan"]
    assert plan["steps"] < plan["planned_steps"] and plan["planned_at"] >= SKIP + MEASURE
    assert plan["replanned_at"] > plan["planned_at"]
    assert main(["train", "--resume", str(run)]) == 0
    done = rundir.read_json(run / rundir.STATUS)
    kept = done["plan"]
    assert done["status"] == "completed" and done["step"] == kept["planned_steps"]
    # not measured again: planned at the same step; the checks go on from the saved one
    assert kept["planned_at"] == plan["planned_at"] and kept["replanned_at"] >= plan["replanned_at"]
    assert kept["seconds"] > plan["seconds"]  # both sessions' training time
    state = last_checkpoint(run)
    assert all(g["lr"] == pytest.approx(0.0, abs=1e-12) for g in state["optimizer"]["param_groups"])
    assert main(["train", "--resume", str(run)]) == 0  # finished: nothing more to do
    assert "already finished" in capsys.readouterr().err
