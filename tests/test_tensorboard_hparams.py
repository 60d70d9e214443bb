"""The TensorBoard tracker's HParams and eval records, read back with TensorBoard's reader."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from tensorboard.backend.event_processing import plugin_event_accumulator
from tensorboard.plugins.hparams import plugin_data_pb2

from diffkit_builtin.trackers import tensorboard as tracker
from diffkit.runner.context import RunContext, flatten

CONFIG = {"seed": 3, "run": {"dir": "x"}, "loss": {"name": "l2"}, "optim": {"lr": 0.002, "grad_clip": None},
          "denoiser": {"channels": [8, 16]}, "train": {"compile": False}}


def reload(run_dir: Path) -> plugin_event_accumulator.EventAccumulator:
    acc = plugin_event_accumulator.EventAccumulator(str(run_dir))
    acc.Reload()
    return acc


def last(acc: plugin_event_accumulator.EventAccumulator, tag: str) -> tuple[int, float]:
    event = acc.Tensors(tag)[-1]
    return event.step, float(torch.tensor(list(event.tensor_proto.float_val)).item())


def a_run(tmp_path: Path) -> RunContext:
    return RunContext(dir=tmp_path, config=CONFIG, step=10,
                      hparams=flatten({k: v for k, v in CONFIG.items() if k != "run"}))


def test_completed_run_writes_hparams_into_its_own_event_files(tmp_path: Path):
    run = a_run(tmp_path)
    tracker.diffkit_run_start(run=run)
    tracker.diffkit_log(run=run, step=10, metrics={"train/loss": 0.25})
    tracker.diffkit_eval(run=run, step=10, metrics={"eval/fid": 12.5})
    tracker.diffkit_run_end(run=run, status="completed", metrics={"train/loss": 0.25, "eval/fid": 12.5, "step": 10.0})
    assert [p for p in tmp_path.iterdir() if p.is_dir()] == []  # no timestamped sub-run
    acc = reload(tmp_path)
    content = acc.PluginTagToContent("hparams")
    assert set(content) == {"_hparams_/session_start_info", "_hparams_/session_end_info"}
    hp = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/session_start_info"]).session_start_info.hparams
    assert hp["seed"].number_value == 3 and hp["optim.lr"].number_value == pytest.approx(0.002)
    assert hp["loss.name"].string_value == "l2" and hp["denoiser.channels"].string_value == "[8, 16]"
    assert hp["optim.grad_clip"].string_value == "none" and hp["train.compile"].bool_value is False
    assert "run.dir" not in hp
    end = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/session_end_info"]).session_end_info
    assert end.status == 1  # STATUS_SUCCESS
    assert last(acc, "train/loss") == (10, 0.25) and last(acc, "eval/fid") == (10, 12.5)


def test_interrupted_run_writes_no_hparams(tmp_path: Path):
    run = a_run(tmp_path)
    tracker.diffkit_log(run=run, step=10, metrics={"train/loss": 0.5})
    tracker.diffkit_run_end(run=run, status="interrupted", metrics={"train/loss": 0.5})
    acc = reload(tmp_path)
    assert "hparams" not in acc.ActivePlugins() or not acc.PluginTagToContent("hparams")
    assert last(acc, "train/loss") == (10, 0.5)


def test_eval_after_training_adds_scalars_and_closes_its_writer(tmp_path: Path):
    run = a_run(tmp_path)
    tracker.diffkit_eval(run=run, step=10, metrics={"eval/fid": 7.0, "eval/precision": 0.5})
    assert str(tmp_path) not in tracker._writers
    acc = reload(tmp_path)
    assert last(acc, "eval/fid") == (10, 7.0) and last(acc, "eval/precision") == (10, 0.5)
