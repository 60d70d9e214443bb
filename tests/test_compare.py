"""``diffkit compare``: differing hyperparameters and final metrics of runs and sweeps,
arms of seeds with interval estimates and verdicts, refusal of incomparable metrics, and the
comparison in TensorBoard."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
import yaml

from diffkit.cli.main import main
from tests.conftest import run_cli


def make_run(path: Path, loss: str, seed: int, fid: float | None, status: str = "completed", **extra) -> Path:
    path.mkdir(parents=True)
    config = {
        "seed": seed,
        "run": {"dir": str(path)},
        "loss": {"name": loss},
        "train": {"steps": 100},
        **extra.pop("config", {}),
    }
    (path / "config.yaml").write_text(yaml.safe_dump(config))
    (path / "status.json").write_text(json.dumps({"status": status, "step": 100}))
    if fid is not None:
        metrics = {"train/loss": 0.1 * (seed + 1), "eval/fid": fid, "step": 100, **extra}
        (path / "metrics.json").write_text(json.dumps(metrics))
    return path


@pytest.fixture
def sweep(tmp_path: Path) -> Path:
    make_run(tmp_path / "sw" / "loss.name=l1,seed=0", "l1", 0, 30.0)
    make_run(tmp_path / "sw" / "loss.name=l1,seed=1", "l1", 1, 10.0)
    make_run(tmp_path / "sw" / "loss.name=l2,seed=0", "l2", 0, 20.0)
    make_run(tmp_path / "sw" / "loss.name=l2,seed=1", "l2", 1, None, status="failed")
    (tmp_path / "sw" / "logs").mkdir()
    return tmp_path / "sw"


def test_markdown_table_shows_only_differing_hparams_sorted_by_a_metric(sweep: Path):
    out = run_cli("compare", str(sweep), "--runs", "--sort", "eval/fid").stdout.strip().splitlines()
    assert [c.strip() for c in out[0].split("|")[1:-1]] == [
        "run",
        "status",
        "loss.name",
        "seed",
        "eval/fid",
        "train/loss",
    ]  # step: the same in every run
    runs = [line.split("|")[1].strip() for line in out[2:]]
    assert runs == ["loss.name=l1,seed=1", "loss.name=l2,seed=0", "loss.name=l1,seed=0", "loss.name=l2,seed=1"]
    assert "train.steps" not in out[0] and "run.dir" not in out[0]
    assert out[-1].split("|")[2].strip() == "failed"


def test_csv_and_json_formats_and_descending_sort(sweep: Path, capsys):
    assert main(["compare", str(sweep), "--runs", "--format", "csv", "--sort", "eval/fid", "--descending"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [float(r["eval/fid"]) for r in rows[:3]] == [30.0, 20.0, 10.0] and rows[3]["eval/fid"] == ""
    assert (
        main(["compare", str(sweep / "loss.name=l1,seed=0"), str(sweep / "loss.name=l2,seed=0"), "--format", "json"])
        == 0
    )
    data = json.loads(capsys.readouterr().out)
    assert [(r["loss.name"], r["eval/fid"], r["n"]) for r in data["arms"]] == [("l2", 20.0, 1), ("l1", 30.0, 1)]
    assert data["group_keys"] == ["loss.name"] and data["primary"] == "eval/fid"  # seed: equal in both


def test_unknown_sort_column_and_empty_dirs_are_one_line_errors(sweep: Path, tmp_path: Path, capsys):
    assert main(["compare", str(sweep), "--sort", "eval/fd"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(
        "diffkit: error: --sort 'eval/fd' is not a metric or key of these runs; did you mean 'eval/fid'"
    )
    (tmp_path / "empty").mkdir()
    assert main(["compare", str(tmp_path / "empty")]) == 2
    assert "no runs (directories with config.yaml) under" in capsys.readouterr().err


#: three seeds per loss, paired by seed: l1 - l2 = -20, -19, -18 (mean -19, sd 1);
#: l1 - l1b = -1, -0.5, -1.5 (mean -1, sd 0.5: t = 3.5 with 2 degrees of freedom, p = 0.074).
FIDS = {"l1": [10.0, 12.0, 14.0], "l1b": [11.0, 12.5, 15.5], "l2": [30.0, 31.0, 32.0]}


@pytest.fixture
def seeds(tmp_path: Path) -> Path:
    for loss, fids in FIDS.items():
        for seed, fid in enumerate(fids):
            make_run(tmp_path / "sw" / f"{loss}-s{seed}", loss, seed, fid, **{"eval/num_samples": 300})
    return tmp_path / "sw"


def test_runs_differing_only_in_seed_form_arms_with_intervals_and_verdicts(seeds: Path, capsys):
    from scipy import stats as sps

    assert main(["compare", str(seeds), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    arms = {r["loss.name"]: r for r in data["arms"]}
    assert list(arms) == ["l1", "l1b", "l2"] and arms["l1"]["n"] == 3 and "seed" not in data["group_keys"]
    half = sps.t.ppf(0.975, 2) * 2.0 / 3**0.5  # l1: mean 12, sd 2: the t interval (wider than the bootstrap's)
    assert (arms["l1"]["eval/fid"], arms["l1"]["eval/fid_lo"], arms["l1"]["eval/fid_hi"]) == (
        pytest.approx(12.0),
        pytest.approx(12.0 - half),
        pytest.approx(12.0 + half),
    )
    assert data["metrics"]["eval/fid"]["higher_is_better"] is False
    verdicts = {(v["first"], v["second"]): v for v in data["verdicts"] if v["metric"] == "eval/fid"}
    assert verdicts[("l1", "l2")]["resolved"] and verdicts[("l1", "l2")]["difference"] == pytest.approx(-19.0)
    assert verdicts[("l1", "l2")]["paired"] and verdicts[("l1", "l2")]["prob_improvement"] == 1.0
    assert not verdicts[("l1", "l1b")]["resolved"] and verdicts[("l1", "l1b")]["p"] > 0.05
    assert main(["compare", str(seeds)]) == 0
    out = capsys.readouterr().out
    table = out.split("\n\n")[0].splitlines()
    assert [line.split("|")[1].strip() for line in table[2:]] == ["l1", "l1b", "l2"]  # sorted by eval/fid
    assert table[0].split("|")[3].strip() == "eval/fid ↓" and table[2].split("|")[3].strip().startswith("12 [")
    assert "- l1 beats l2 on eval/fid: difference -19 [" in out
    assert "- l1 vs l1b on eval/fid: not resolved at n=3: difference -1 [" in out
    assert "seeds would resolve a difference this size" in out
    assert max(len(line) for line in out.splitlines()) <= 100


def test_by_chooses_the_grouping_and_a_setting_is_not_shown_next_to_its_result(tmp_path: Path, capsys):
    for i, (lr, samples) in enumerate([(0.1, 200), (0.2, 200), (0.1, 300), (0.2, 300)]):
        make_run(
            tmp_path / "sw" / f"r{i}",
            "l2",
            0,
            10.0 + i,
            config={"optim": {"lr": lr}, "eval": {"num_samples": samples}},
            **{"eval/num_samples": samples},
        )
    assert main(["compare", str(tmp_path / "sw"), "--runs"]) == 0
    header = [c.strip() for c in capsys.readouterr().out.splitlines()[0].split("|")[1:-1]]
    assert header == ["run", "status", "optim.lr", "eval/num_samples", "eval/fid", "train/loss"]
    assert main(["compare", str(tmp_path / "sw"), "--by", "optim.lr", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)["arms"]
    assert [(r["optim.lr"], r["n"], r["eval/fid"]) for r in rows] == [(0.1, 2, 11.0), (0.2, 2, 12.0)]
    assert main(["compare", str(tmp_path / "sw"), "--by", "optim.lrr"]) == 2
    assert capsys.readouterr().err.strip() == (
        "diffkit: error: --by 'optim.lrr' is not a hyperparameter of these runs; did you mean 'optim.lr'? "
        "see diffkit compare --all for every key"
    )
    assert main(["compare", str(tmp_path / "sw"), "--all", "--by", "optim.lr"]) == 2
    assert "--all shows one row per run; --by groups them" in capsys.readouterr().err


def test_the_comparison_goes_to_tensorboards_text_and_image_dashboards(seeds: Path, capsys):

    from tensorboard.backend.event_processing import plugin_event_multiplexer

    for _ in range(2):  # written again: still one event file, in one run
        assert main(["compare", str(seeds), "--tensorboard"]) == 0
    held = list(seeds.glob("*/events.out.tfevents.*.comparison"))
    assert len(held) == 1 and not (seeds / "comparison").exists()
    mux = plugin_event_multiplexer.EventMultiplexer().AddRunsFromDirectory(str(seeds))
    mux.Reload()
    runs = {run for run in mux.Runs() if mux.Runs()[run]}  # every directory TensorBoard lists as a run
    assert "comparison" not in runs and runs <= {p.name for p in seeds.iterdir() if p.is_dir()}
    with_table = [run for run in mux.Runs() if "comparison/text_summary" in mux.Runs()[run].get("tensors", [])]
    assert with_table == [held[0].parent.name]
    text = mux.Tensors(with_table[0], "comparison/text_summary")[-1].tensor_proto.string_val[0].decode()
    assert "| l2 " in text and "l1 beats l2 on eval/fid: difference -19 [" in text
    assert "comparison/intervals" in mux.Runs()[with_table[0]]["tensors"]  # the image plugin's summary
    assert main(["compare", str(seeds)]) == 0 and "comparison" not in capsys.readouterr().out  # not taken for a run


def test_parameters_that_follow_a_component_name_do_not_split_or_widen_groups(tmp_path: Path, capsys):
    for name, extra in (("linear", {"beta_start": 0.0001}), ("cosine", {})):
        for seed in (0, 1):
            make_run(
                tmp_path / "sw" / f"{name}-s{seed}",
                "l2",
                seed,
                10.0 + seed + (name == "linear"),
                config={"scheduler": {"name": name, **extra}},
            )
    assert main(["compare", str(tmp_path / "sw"), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [(r["scheduler.name"], r["n"]) for r in data["arms"]] == [("cosine", 2), ("linear", 2)]
    assert data["group_keys"] == ["scheduler.name"]


def with_provenance(run: Path, **fields) -> None:
    metric = {
        "feature_space": "classifier",
        "reference": "abc",
        "nfe": 20.0,
        "num_samples": 300,
        "sampler": "ddim",
        "higher_is_better": False,
        "description": "FID",
        **fields,
    }
    (run / "provenance.json").write_text(
        json.dumps({"diffkit": "0.1.0", "torch": "2.4.0", "metrics": {"eval/fid": metric}})
    )


def test_metrics_of_different_feature_spaces_are_refused_unless_allowed(seeds: Path, capsys):
    for run in seeds.iterdir():
        with_provenance(run, feature_space="inception" if run.name.startswith("l2") else "classifier")
    assert main(["compare", str(seeds)]) == 2
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()
    assert captured.out == "" and len(err) == 1
    assert err[0].startswith(
        "diffkit: error: metrics.eval/fid.feature_space differs between the runs "
        "(classifier in 6 runs, inception in 3 runs)"
    )
    assert "--allow-incomparable" in err[0]
    assert main(["compare", str(seeds), "--allow-incomparable"]) == 0
    out = capsys.readouterr().out
    assert "compared although not comparable (--allow-incomparable): metrics.eval/fid.feature_space" in out
    assert "metrics.eval/fid.feature_space differs: classifier (6 runs), inception (3 runs)" in out


def test_nfe_may_differ_between_arms_only_when_a_sampler_setting_is_compared(tmp_path: Path, capsys):
    for steps in (10, 20):
        for seed in (0, 1):
            run = make_run(
                tmp_path / "sw" / f"s{steps}-{seed}",
                "l2",
                seed,
                10.0 + steps + seed,
                config={"sampler": {"name": "ddim", "steps": steps}},
            )
            with_provenance(run, nfe=float(steps))
    assert main(["compare", str(tmp_path / "sw")]) == 0  # sampler.steps is what is compared
    assert "metrics.eval/fid.nfe differs" in capsys.readouterr().out
    assert main(["compare", str(tmp_path / "sw"), "--by", "seed"]) == 2  # now NFE varies within an arm's rivals
    assert "metrics.eval/fid.nfe differs between the runs" in capsys.readouterr().err


def test_json_is_valid_without_nan_and_a_symlinked_run_is_included(tmp_path: Path, capsys):
    make_run(tmp_path / "sw" / "a", "l1", 0, float("nan"))
    make_run(tmp_path / "elsewhere" / "b", "l2", 0, 12.0)
    (tmp_path / "sw" / "b").symlink_to(tmp_path / "elsewhere" / "b", target_is_directory=True)
    for args in ([], ["--runs"]):
        assert main(["compare", str(tmp_path / "sw"), "--format", "json", *args]) == 0
        text = capsys.readouterr().out
        data = json.loads(text, parse_constant=lambda c: pytest.fail(f"invalid JSON constant {c}"))
        assert "NaN" not in text
        rows = data["arms"] if isinstance(data, dict) else data
        assert len(rows) == 2  # the symlinked run too
        assert any(r["eval/fid"] is None for r in rows)


def test_plot_is_a_legible_png(seeds: Path, tmp_path: Path, capsys):
    from PIL import Image

    out = tmp_path / "plot.png"
    assert main(["compare", str(seeds), "--plot", str(out)]) == 0
    with Image.open(out) as img:
        assert img.format == "PNG" and img.size[0] == 1280 and 300 <= img.size[1] <= 2000
        assert len(img.convert("L").getcolors(maxcolors=1 << 16)) > 10  # not blank
