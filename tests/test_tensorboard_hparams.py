"""The TensorBoard tracker's HParams and eval records, read back with TensorBoard's reader."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from tensorboard.backend.event_processing import plugin_event_accumulator
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams import api_pb2, plugin_data_pb2

from diffkit.config import hparams
from diffkit.interfaces.run import RunContext
from diffkit.runner.sample import forward_timesteps
from diffkit_builtin.trackers import tensorboard as tracker

CONFIG = {
    "seed": 3,
    "run": {"dir": "x"},
    "loss": {"name": "l2"},
    "optim": {"lr": 0.002, "grad_clip": None},
    "denoiser": {"channels": [8, 16]},
    "train": {"compile": False},
}


def reload(run_dir: Path) -> plugin_event_accumulator.EventAccumulator:
    acc = plugin_event_accumulator.EventAccumulator(str(run_dir))
    acc.Reload()
    return acc


def last(acc: plugin_event_accumulator.EventAccumulator, tag: str) -> tuple[int, float]:
    event = acc.Tensors(tag)[-1]
    return event.step, float(torch.tensor(list(event.tensor_proto.float_val)).item())


def a_run(tmp_path: Path) -> RunContext:
    return RunContext(dir=tmp_path, config=CONFIG, step=10, hparams=hparams(CONFIG))


def hparams_data(acc: plugin_event_accumulator.EventAccumulator) -> dict[str, plugin_data_pb2.HParamsPluginData]:
    content = acc.PluginTagToContent("hparams")
    return {tag.split("/")[-1]: plugin_data_pb2.HParamsPluginData.FromString(v) for tag, v in content.items()}


def test_a_running_run_is_in_the_hparams_table_and_a_completed_one_declares_the_columns(tmp_path: Path):
    run = a_run(tmp_path)
    run.info["metric_info"] = {"eval/mean_gap": {"higher_is_better": True, "description": "a plugin's score"}}
    tracker.diffkit_run_start(run=run)
    tracker._writers[str(tmp_path)].flush()
    data = hparams_data(reload(tmp_path))  # read while the run is still going
    assert set(data) == {"session_start_info"}
    hp = data["session_start_info"].session_start_info.hparams
    assert set(hp) == {"seed", "loss.name", "optim.lr"}  # the curated keys this config has; no run.*, no grad_clip
    assert hp["seed"].string_value == "3" and hp["optim.lr"].number_value == pytest.approx(0.002)  # an integer: 3
    assert hp["loss.name"].string_value == "l2"
    tracker.diffkit_log(run=run, step=10, metrics={"train/loss": 0.25, "train/global_batch": 16.0})
    tracker.diffkit_eval(run=run, step=10, metrics={"eval/fid": 12.5, "eval/mean_gap": 0.5, "eval/num_samples": 300.0})
    tracker.diffkit_run_end(run=run, status="completed", metrics={"train/loss": 0.25, "eval/fid": 12.5, "step": 10.0})
    assert [p for p in tmp_path.iterdir() if p.is_dir()] == []  # no timestamped sub-run
    acc = reload(tmp_path)
    data = hparams_data(acc)
    assert data["session_end_info"].session_end_info.status == 1  # STATUS_SUCCESS
    experiment = data["experiment"].experiment
    assert [h.name for h in experiment.hparam_infos] == ["loss.name", "optim.lr", "seed"]  # in CURATED order
    assert [(h.name, h.type) for h in experiment.hparam_infos if h.name == "seed"] == [
        ("seed", api_pb2.DATA_TYPE_STRING)
    ]
    tags = [m.name.tag for m in experiment.metric_infos]
    assert tags == ["eval/fid", "train/loss", "eval/mean_gap"]  # no empty columns for precision, recall
    assert experiment.metric_infos[-1].description == "a plugin's score; higher is better"
    assert all(m.description for m in experiment.metric_infos)
    assert last(acc, "train/loss") == (10, 0.25) and last(acc, "eval/fid") == (10, 12.5)
    # bookkeeping is text, not a scalar card
    assert not {"train/global_batch", "eval/num_samples"} & set(acc.Tags()["tensors"])
    assert "| eval/num_samples | 300 |" in acc.Tensors("eval/text_summary")[-1].tensor_proto.string_val[0].decode()
    texts = [e.tensor_proto.string_val[0].decode() for e in acc.Tensors("run/text_summary")]
    assert "started" in texts[0] and "| loss.name | l2 |" in texts[0]
    assert "completed at step 10" in texts[1] and "| eval/fid | 12.5 |" in texts[1]


def test_run_hparams_chooses_the_columns_and_a_failed_run_ends_as_a_failure(tmp_path: Path):
    run = a_run(tmp_path)
    run.config = {**CONFIG, "run": {"dir": "x", "hparams": ["optim.lr", "denoiser"]}}
    tracker.diffkit_run_start(run=run)
    tracker.diffkit_run_end(run=run, status="failed", metrics={})
    data = hparams_data(reload(tmp_path))
    hp = data["session_start_info"].session_start_info.hparams
    assert set(hp) == {"optim.lr", "denoiser.channels"} and hp["denoiser.channels"].string_value == "[8, 16]"
    assert data["session_end_info"].session_end_info.status == 2  # STATUS_FAILURE


def test_an_interrupted_run_has_no_session_end_so_its_resumed_end_counts(tmp_path: Path):
    run = a_run(tmp_path)
    tracker.diffkit_run_start(run=run)
    tracker.diffkit_log(run=run, step=10, metrics={"train/loss": 0.5})
    tracker.diffkit_run_end(run=run, status="interrupted", metrics={"train/loss": 0.5})
    acc = reload(tmp_path)
    assert set(hparams_data(acc)) == {"session_start_info"}
    assert last(acc, "train/loss") == (10, 0.5)


def test_small_images_are_scaled_up_and_forward_frames_labelled_with_t(tmp_path: Path):
    run = a_run(tmp_path)
    run.config = {**CONFIG, "scheduler": {"num_timesteps": 300}}
    frames = torch.zeros(10, 1, 8, 8)
    frames[:, :, 2:6, 2:6] = 1.0  # a white square in each 8x8 frame
    tracker.diffkit_images(run=run, step=0, tag="forward_process", images=frames)
    tracker.diffkit_images(run=run, step=0, tag="samples", images=frames[:4])
    tracker._writers.pop(str(tmp_path)).close()
    acc = EventAccumulator(str(tmp_path), size_guidance={"images": 0})
    acc.Reload()
    strip = acc.Images("forward_process")[0]
    assert (strip.width, strip.height) == (5 * 66 + 2, 2 * (64 + 12 + 2) + 2)  # 8x8 -> 64x64 over a 12 px label
    grid = acc.Images("samples")[0]
    assert (grid.width, grid.height) == (2 * 66 + 2, 2 * 66 + 2)
    pixels = Image.open(io.BytesIO(grid.encoded_image_string)).convert("L")
    assert pixels.getpixel((2 + 16, 2 + 16)) == 255 and pixels.getpixel((2 + 15, 2 + 16)) == 0  # 8x blocks
    labels = Image.open(io.BytesIO(strip.encoded_image_string)).convert("L").crop((0, 66, 332, 78))
    assert np.asarray(labels).min() < 128  # text drawn under the frames
    assert forward_timesteps(300, 10).tolist() == [0, 33, 66, 100, 133, 166, 199, 233, 266, 299]


def test_eval_after_training_adds_scalars_and_closes_its_writer(tmp_path: Path):
    run = a_run(tmp_path)
    tracker.diffkit_eval(run=run, step=10, metrics={"eval/fid": 7.0, "eval/precision": 0.5})
    assert str(tmp_path) not in tracker._writers
    acc = reload(tmp_path)
    assert last(acc, "eval/fid") == (10, 7.0) and last(acc, "eval/precision") == (10, 0.5)
