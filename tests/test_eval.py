"""``diffkit eval``: metrics of a trained run into metrics.json and TensorBoard."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from diffkit.cli.main import main
from diffkit_builtin.metrics.classifier import CACHE_ENV
from tests.conftest import TINY, cli_env, run_cli
from tests.test_metrics import feature_cache  # noqa: F401 - the digits-8 feature classifier


@pytest.mark.slow
def test_eval_writes_metrics_with_sampler_and_steps_and_logs_them(
    tmp_path: Path,
    feature_cache,  # noqa: F811
    monkeypatch,
    capsys,
):
    env = cli_env(**{CACHE_ENV: str(feature_cache)})
    run_dir = tmp_path / "run"
    run_cli("train", *TINY, "scheduler.num_timesteps=20", f"run.dir={run_dir}", env=env)
    assert "eval/fid" not in json.loads((run_dir / "metrics.json").read_text())  # eval.metrics is empty by default

    proc = run_cli("eval", str(run_dir), "--num", "24", "--metric", "fid", "--metric", "precision_recall", env=env)
    printed = dict(line.split("\t") for line in proc.stdout.strip().splitlines())
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["train/loss"] > 0 and metrics["step"] == 6  # kept from training
    assert metrics["eval/sampler"] == "ddpm" and metrics["eval/sampling_steps"] == 20
    assert metrics["eval/num_samples"] == 24 and metrics["eval/checkpoint_step"] == 6
    assert metrics["eval/fid"] > 0 and 0 <= metrics["eval/precision"] <= 1 and 0 <= metrics["eval/recall"] <= 1
    assert float(printed["eval/fid"]) == pytest.approx(metrics["eval/fid"], rel=1e-5)

    acc = EventAccumulator(str(run_dir))
    acc.Reload()
    fid = acc.Scalars("eval/fid")
    assert [e.step for e in fid] == [6] and fid[0].value == pytest.approx(metrics["eval/fid"], rel=1e-5)
    assert "train/loss" in acc.Tags()["scalars"]  # training's events are kept

    again = run_cli("eval", str(run_dir), "--num", "24", "--metric", "fid", env=env)
    assert dict(line.split("\t") for line in again.stdout.strip().splitlines())["eval/fid"] == printed["eval/fid"]

    # --repeats 3 scores the sample sets of seeds 0, 1, 2 (the run's seed is 0): their mean and sample std
    monkeypatch.setenv(CACHE_ENV, str(feature_cache))

    def fid_of(*args: str) -> float:
        assert main(["eval", str(run_dir), "--num", "24", "--metric", "fid", *args]) == 0
        return float(dict(line.split("\t") for line in capsys.readouterr().out.strip().splitlines())["eval/fid"])

    sets = [float(printed["eval/fid"]), fid_of("--seed", "1"), fid_of("--seed", "2")]
    fid_of("--repeats", "3")
    metrics = json.loads((run_dir / "metrics.json").read_text())
    mean = sum(sets) / 3
    assert metrics["eval/repeats"] == 3 and metrics["eval/fid"] == pytest.approx(mean, rel=1e-5)
    assert metrics["eval/fid_std"] == pytest.approx((sum((v - mean) ** 2 for v in sets) / 2) ** 0.5, rel=1e-4)
    assert metrics["eval/fid_std"] > 0 and "eval/sampling_steps_std" not in metrics
    acc = EventAccumulator(str(run_dir))
    acc.Reload()
    assert acc.Scalars("eval/fid_std")[-1].value == pytest.approx(metrics["eval/fid_std"], rel=1e-5)
    assert main(["compare", str(run_dir), "--format", "json"]) == 0
    row = json.loads(capsys.readouterr().out)["arms"][0]  # the sample sets, kept in provenance.json
    assert (row["eval/fid_n"], row["eval/fid_eval_sd"]) == (3, pytest.approx(metrics["eval/fid_std"], rel=1e-4))
    evaluation = json.loads((run_dir / "provenance.json").read_text())["evaluation"]
    assert evaluation["repeats"] == 3 and evaluation["sets"]["eval/fid"] == pytest.approx(sets, rel=1e-5)
    fid = json.loads((run_dir / "provenance.json").read_text())["metrics"]["eval/fid"]
    assert (fid["sampler"], fid["nfe"], fid["num_samples"], fid["feature_space"]) == ("ddpm", 20, 24, "classifier")
    assert len(fid["reference"]) == 16 and fid["higher_is_better"] is False and isinstance(fid["ema"], bool)
    fid_of()  # one sample set again: the spread of the earlier three is not kept
    assert "eval/fid_std" not in json.loads((run_dir / "metrics.json").read_text())

    bad = run_cli("eval", str(run_dir), "--metric", "fdi", env=env, check=False)
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines()[-1].startswith("diffkit: error: unknown metric 'fdi'; did you mean 'fid'?")
