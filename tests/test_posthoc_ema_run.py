"""The ``power`` EMA in a real (tiny) run: snapshots on disk, a bit-exact resume after a
kill between a snapshot and its checkpoint, half-written snapshots never used, and the
rebuilt EMA against the one the run tracked directly."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch
import yaml

from diffkit import checkpoint as ckpt
from diffkit import ema_snapshots
from diffkit.config import compose, read_yaml
from diffkit.runner import rundir
from diffkit.runner.train import train
from tests.conftest import TINY

STEPS = 12
POWER = [
    *TINY,
    f"train.steps={STEPS}",
    "train.checkpoint_every=4",
    "train.device=cpu",
    "train.deterministic=true",
    "ema.name=power",
    "ema.snapshot_every=2",
    "ema.track=[0.08]",
]


def _train(plugins, overrides: list[str], resume: Path | None = None) -> Path:
    base = read_yaml(resume / rundir.CONFIG) if resume else None
    try:
        return train(compose(None, overrides, plugins.registry, base=base), plugins, resume=resume)
    finally:
        torch.use_deterministic_algorithms(False)


@pytest.fixture(scope="module")
def reference(plugins, tmp_path_factory) -> Path:
    return _train(plugins, [*POWER, f"run.dir={tmp_path_factory.mktemp('ref') / 'run'}"])


def _snapshots(run_dir: Path) -> dict[int, dict]:
    return {s["step"]: s for _, s in ema_snapshots.readable(run_dir)}


def test_snapshots_are_written_every_snapshot_every_steps_in_fp16(reference):
    snaps = _snapshots(reference)
    assert sorted(snaps) == [2, 4, 6, 8, 10, 12]
    snap = snaps[12]
    assert snap["sigma_rels"] == [0.05, 0.10] and len(snap["averages"]) == 2
    assert all(snap["averages"][0][k].dtype == torch.float16 for k in snap["params"])
    state = ckpt.load(reference / "checkpoints" / "last.pt")["ema"]
    assert state["sigma_rels"] == [0.05, 0.10, 0.08]
    for k in snap["params"]:  # the last snapshot is the tracked averages, rounded to fp16
        torch.testing.assert_close(snap["averages"][1][k], state["averages"][0][k].half())


def test_the_last_step_is_snapshotted_when_the_interval_does_not_divide_it(plugins, tmp_path):
    """A snapshot interval that misses the last step (or a time budget, which fixes the last
    step only once it has measured the speed) still rebuilds the EMA of the final weights."""
    run_dir = _train(plugins, [*POWER, "train.steps=11", "ema.snapshot_every=4", f"run.dir={tmp_path / 'run'}"])
    snaps = _snapshots(run_dir)
    assert sorted(snaps) == [4, 8, 11]
    state = ckpt.load(run_dir / "checkpoints" / "last.pt")["ema"]
    for k in snaps[11]["params"]:
        torch.testing.assert_close(snaps[11]["averages"][1][k], state["averages"][0][k].half())


def test_resume_after_a_kill_between_snapshot_and_checkpoint_is_bit_exact(plugins, reference, tmp_path, monkeypatch):
    run_dir = tmp_path / "run"
    real = ckpt.save_rotating

    def killed_at_8(state, directory, step, keep):
        if step == 8:  # snapshot 6 and 8 are on disk, checkpoint 8 is not
            raise KeyboardInterrupt
        return real(state, directory, step, keep)

    monkeypatch.setattr(ckpt, "save_rotating", killed_at_8)
    with pytest.raises(KeyboardInterrupt):
        _train(plugins, [*POWER, f"run.dir={run_dir}"])
    monkeypatch.setattr(ckpt, "save_rotating", real)
    assert ckpt.load(ckpt.latest(run_dir / "checkpoints"))["step"] == 4
    assert sorted(_snapshots(run_dir)) == [2, 4, 6, 8]
    half = run_dir / ema_snapshots.SNAPSHOTS / ".step_0000010.pt.x1y2.tmp"  # a writer killed mid-file
    half.write_bytes((reference / ema_snapshots.SNAPSHOTS / "step_0000010.pt").read_bytes()[:300])

    _train(plugins, [], resume=run_dir)
    got, want = (ckpt.load(r / "checkpoints" / "last.pt")["ema"] for r in (run_dir, reference))
    for a, b in zip([got["model"], *got["averages"]], [want["model"], *want["averages"]]):
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in b)
    mine, theirs = _snapshots(run_dir), _snapshots(reference)
    assert sorted(mine) == sorted(theirs)
    for step, snap in theirs.items():
        for a, b in zip(mine[step]["averages"], snap["averages"]):
            assert all(torch.equal(a[k], b[k]) for k in b), step
    assert not half.exists()  # rotation removed it


def test_a_half_written_snapshot_is_never_used(reference, tmp_path, monkeypatch, capsys):
    run_dir = tmp_path / "run"
    shutil.copytree(reference / ema_snapshots.SNAPSHOTS, run_dir / ema_snapshots.SNAPSHOTS)
    clean = ema_snapshots.load_ema_weights(run_dir, 0.08)
    folder = run_dir / ema_snapshots.SNAPSHOTS
    good = (folder / "step_0000012.pt").read_bytes()
    (folder / ".step_0000014.pt.abc.tmp").write_bytes(good[: len(good) // 2])  # killed by SIGKILL mid-write
    assert [p.name for p in ema_snapshots.listed(folder)][-1] == "step_0000012.pt"

    # a write interrupted inside torch.save leaves neither the file nor its temporary
    def interrupted(obj, f, *args, **kwargs):
        f.write(good[:100])
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", interrupted)
    with pytest.raises(KeyboardInterrupt):
        ema_snapshots.save(folder, 16, {"sigma_rels": [], "gammas": [], "params": [], "averages": []})
    monkeypatch.undo()
    assert not (folder / "step_0000016.pt").exists()
    rebuilt = ema_snapshots.load_ema_weights(run_dir, 0.08)
    assert all(torch.equal(rebuilt[k], clean[k]) for k in clean)

    (folder / "step_0000014.pt").write_bytes(good[: len(good) // 2])  # truncated by someone else: skipped, said
    rebuilt = ema_snapshots.load_ema_weights(run_dir, 0.08)
    assert all(torch.equal(rebuilt[k], clean[k]) for k in clean)
    assert "skipping" in capsys.readouterr().err


def test_the_rebuilt_ema_is_close_to_the_tracked_one(reference):
    state = ckpt.load(reference / "checkpoints" / "last.pt")
    tracked, raw = state["ema"]["averages"][-1], state["model"]
    rebuilt = ema_snapshots.load_ema_weights(reference, 0.08)
    keys = [k for k in tracked if tracked[k].is_floating_point()]
    err = sum(float((rebuilt[k] - tracked[k]).pow(2).sum()) for k in keys) ** 0.5
    spread = sum(float((raw[k] - tracked[k]).pow(2).sum()) for k in keys) ** 0.5
    assert err < 0.15 * spread, (err, spread)  # 6 fp16 snapshots of 12 steps (fp16 rounding dominates)
    for neighbour in (state["ema"]["model"], state["ema"]["averages"][0]):  # the tracked 0.05 and 0.10
        assert sum(float((neighbour[k] - tracked[k]).pow(2).sum()) for k in keys) ** 0.5 > 2 * err


def test_each_post_hoc_length_is_an_hparams_session(tmp_path):
    from tensorboard.backend.event_processing import plugin_event_accumulator
    from tensorboard.plugins.hparams import plugin_data_pb2

    from diffkit.config import hparams
    from diffkit.interfaces.run import RunContext
    from diffkit_builtin.trackers import tensorboard as tracker

    config = {"seed": 0, "loss": {"name": "l1"}, "optim": {"lr": 0.001}}
    run = RunContext(dir=tmp_path, config=config, step=6, hparams=hparams(config))
    for fid in (3.0, 2.5):  # evaluated twice: the second session replaces the first
        tracker.diffkit_eval(run=run, step=6, metrics={"eval/fid@ema0.08": fid, "eval/fid@ema0.15": fid + 1})
    folder = tmp_path / "posthoc_ema" / "ema0.08"
    assert sorted(p.name for p in (tmp_path / "posthoc_ema").iterdir()) == ["ema0.08", "ema0.15"]
    assert len(list(folder.glob("events.out.tfevents.*"))) == 1
    acc = plugin_event_accumulator.EventAccumulator(str(folder))
    acc.Reload()
    content = acc.PluginTagToContent("hparams")
    data = {t.split("/")[-1]: plugin_data_pb2.HParamsPluginData.FromString(v) for t, v in content.items()}
    hp = data["session_start_info"].session_start_info.hparams
    assert hp["ema.sigma_rel"].number_value == pytest.approx(0.08) and hp["loss.name"].string_value == "l1"
    assert "session_end_info" in data
    event = acc.Tensors("eval/fid")[-1]
    assert (event.step, event.tensor_proto.float_val[0]) == (6, pytest.approx(2.5))


def test_keep_snapshots_rotates_like_checkpoints(tmp_path):
    record = {"sigma_rels": [0.1], "gammas": [6.94], "params": ["w"], "averages": [{"w": torch.ones(2)}]}
    folder = tmp_path / ema_snapshots.SNAPSHOTS
    for step in (2, 4, 6, 8):
        ema_snapshots.save(folder, step, record, keep=2)
    assert [p.name for p in ema_snapshots.listed(folder)] == ["step_0000006.pt", "step_0000008.pt"]


def test_a_run_from_before_the_ema_kind_resumes_and_samples(plugins, tmp_path):
    """Configs and checkpoints written when ``ema`` was {decay, warmup, use_for_sampling}."""
    from diffkit.api import open_run

    run_dir = tmp_path / "old"
    _train(plugins, [*TINY, "train.steps=3", "ema.decay=0.9", f"run.dir={run_dir}"])
    old = {"decay": 0.9, "warmup": True, "use_for_sampling": True}
    config = read_yaml(run_dir / rundir.CONFIG)
    config["ema"] = old
    (run_dir / rundir.CONFIG).write_text(yaml.safe_dump(config))
    for path in ckpt.numbered(run_dir / "checkpoints"):
        state = ckpt.load(path)
        state["config"]["ema"] = dict(old)
        ckpt.save_atomic(state, path)
    ckpt.save_atomic(ckpt.load(ckpt.numbered(run_dir / "checkpoints")[-1]), run_dir / "checkpoints" / "last.pt")
    _train(plugins, ["train.steps=5"], resume=run_dir)
    state = ckpt.load(run_dir / "checkpoints" / "last.pt")
    assert state["ema"]["num_updates"] == 5 and state["config"]["ema"]["name"] == "exponential"
    images = open_run(run_dir).sample(2, progress=False)
    assert images.shape == (2, 1, 8, 8)


def test_config_checks_build_the_ema(plugins):
    from diffkit.errors import ConfigError
    from diffkit.runner.ema import check_ema

    def check(*overrides: str) -> list[str]:
        return check_ema(plugins.registry, compose(None, ["ema.name=power", *overrides], plugins.registry).cfg)

    assert check("ema.snapshot_every=7") == []  # the last step is snapshotted whatever the interval
    with pytest.raises(ConfigError, match="rejected its parameters: sigma_rels, track: sigma_rel=0.5"):
        check("ema.track=[0.5]")
