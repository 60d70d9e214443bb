"""What TensorBoard shows for a real (tiny) sweep, read back with TensorBoard's own
multiplexer, the reader behind its run selector and dashboards: one entry per run and
nothing else, no scalar cards for bookkeeping, integers as integers, and a plugin
metric's direction and description as an HParams column."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from tensorboard.backend.event_processing import plugin_event_multiplexer
from tensorboard.plugins.hparams import plugin_data_pb2

from diffkit.cli.main import main
from tests.conftest import REPO

pytestmark = pytest.mark.slow

OVERRIDES = {
    "data.image_size": 8,
    "data.batch_size": 16,
    "denoiser.channels": [8, 16],
    "time_embedding.dim": 8,
    "scheduler.num_timesteps": 20,
    "train.progress": False,
    "train.sample_every": 0,
    "train.num_samples": 4,
    "train": {"steps": 4, "log_every": 2, "checkpoint_every": 4},
    "eval": {"metrics": ["count"], "num_samples": 4},
    "run.plugins": ["tests.sweep_plugin"],
}


@pytest.fixture(scope="module")
def board(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, plugin_event_multiplexer.EventMultiplexer]:
    root = tmp_path_factory.mktemp("tb")
    sweep = root / "tiny.yaml"
    sweep.write_text(
        yaml.safe_dump(
            {
                "base": str(REPO / "configs/default.yaml"),
                "overrides": OVERRIDES,
                "grid": {"seed": [0, 1]},
                "dir": str(root / "out"),
            }
        )
    )
    assert main(["sweep", str(sweep)]) == 0
    mux = plugin_event_multiplexer.EventMultiplexer().AddRunsFromDirectory(str(root / "out"))
    mux.Reload()
    return root / "out", mux


@pytest.mark.long  # a whole sweep: minutes on 2 cores (python -m pytest -m long)
def test_the_run_selector_lists_the_runs_and_nothing_else(board) -> None:
    out, mux = board
    assert sorted(mux.Runs()) == ["s0", "s1"]  # no "comparison" entry with a colour of its own
    held = [run for run in mux.Runs() if "comparison/text_summary" in mux.Runs()[run]["tensors"]]
    assert len(held) == 1  # the table is in the run that completed last
    text = mux.Tensors(held[0], "comparison/text_summary")[-1].tensor_proto.string_val[0].decode()
    assert "eval/count" in text and "| n |" in text  # the two seeds, grouped into one arm


def test_bookkeeping_is_text_not_scalar_cards(board) -> None:
    out, mux = board
    tags = set(mux.Runs()["s0"]["tensors"])
    assert {"train/loss", "eval/count"} <= tags
    assert not {"train/global_batch", "eval/num_samples", "eval/sampling_steps"} & tags
    texts = [e.tensor_proto.string_val[0].decode() for e in mux.Tensors("s0", "eval/text_summary")]
    assert any("| eval/num_samples | 4 |" in t for t in texts)
    assert '"eval/num_samples": 4' in (out / "s0" / "metrics.json").read_text()


def test_hparams_show_integers_and_the_plugin_metric_column(board) -> None:
    out, mux = board
    content = {run: mux.PluginRunToTagToContent("hparams")[run] for run in ("s0", "s1")}
    start = plugin_data_pb2.HParamsPluginData.FromString(content["s1"]["_hparams_/session_start_info"])
    assert start.session_start_info.hparams["seed"].string_value == "1"  # shown as 1, not 1.0000
    experiment = plugin_data_pb2.HParamsPluginData.FromString(content["s0"]["_hparams_/experiment"]).experiment
    columns = {m.name.tag: m.description for m in experiment.metric_infos}
    assert columns["eval/count"] == "the number of generated images; higher is better"
    assert "eval/num_samples" not in columns


def test_the_board_is_redrawn_at_the_sweeps_last_run_and_at_most_every_30_s_before(tmp_path: Path) -> None:
    import json
    import os

    from diffkit.sweep.board import REFRESH_SECONDS, SUFFIX, refresh_due

    names = ["a", "b", "c"]
    (tmp_path / "sweep.json").write_text(json.dumps({"runs": [{"name": n} for n in names]}))

    def status(name: str, value: str) -> None:
        (tmp_path / name).mkdir(exist_ok=True)
        (tmp_path / name / "status.json").write_text(json.dumps({"status": value}))

    status("a", "completed")
    assert refresh_due(tmp_path)  # no board yet
    board = tmp_path / "a" / f"events.out.tfevents.1{SUFFIX}"
    board.write_bytes(b"")
    drawn = board.stat().st_mtime
    status("b", "completed")
    assert not refresh_due(tmp_path, now=drawn + 1)  # c is still to come: the board waits
    assert refresh_due(tmp_path, now=drawn + REFRESH_SECONDS)
    status("c", "failed")
    assert refresh_due(tmp_path, now=drawn + 1)  # every run has ended: the board shows the end
    status("c", "interrupted")
    assert not refresh_due(tmp_path, now=drawn + 1)
    os.remove(tmp_path / "sweep.json")
    assert refresh_due(tmp_path, now=drawn + 1)  # not a sweep this launcher knows: always
