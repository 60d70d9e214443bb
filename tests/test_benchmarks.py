"""The benchmark code path on tiny inputs (speed itself is measured only by benchmarks/)."""

from __future__ import annotations

import importlib

import pytest
import torch
from torch import nn

from benchmarks import overhead, report
from benchmarks.peers import count, match_width
from benchmarks.run import TINY
from tests.test_metrics import feature_cache  # noqa: F401 - the digits-8 feature classifier


def test_replace_section_keeps_other_sections_and_appends_missing_ones(tmp_path):
    doc = tmp_path / "performance.md"
    doc.write_text("# P\n\n<!-- BEGIN sampling -->\ntheirs\n<!-- END sampling -->\n")
    report.replace_section(doc, "overhead", "first")
    report.replace_section(doc, "overhead", "| a |\n| b |")
    text = doc.read_text()
    assert "<!-- BEGIN sampling -->\ntheirs\n<!-- END sampling -->" in text
    assert text.count("<!-- BEGIN overhead -->") == 1 and "first" not in text
    assert "<!-- BEGIN overhead -->\n| a |\n| b |\n<!-- END overhead -->" in text
    report.replace_section(tmp_path / "new.md", "peers", "x")
    assert (tmp_path / "new.md").read_text().startswith(report.TITLE)


def test_match_width_picks_the_closest_parameter_count():
    def build(w: int) -> nn.Module:
        return nn.Linear(w, w)  # w^2 + w parameters

    assert count(match_width(build, target=900, step=4)) == 28 * 28 + 28  # 812 is closer than 1056
    assert count(match_width(build, target=1000, step=4)) == 32 * 32 + 32  # 1056 is closer than 812


@pytest.mark.slow
def test_overhead_pairs_the_real_runner_with_the_bare_loop():
    torch.manual_seed(0)
    res = overhead.measure([*TINY, "scheduler.num_timesteps=50"], block=2, pairs=2)
    assert res["pairs"] == 2 and len(res["ratios"]) == 2
    assert all(r > 0 for r in res["ratios"]) and res["runner_ms_per_step"] > 0 and res["bare_ms_per_step"] > 0
    assert res["median_ratio"] == pytest.approx(sum(res["ratios"]) / 2, rel=1e-3)


@pytest.mark.parametrize("name", ["run", "overhead", "throughput", "peers", "memory", "sampling", "recipes", "formulations", "exact_tier"])
def test_every_benchmark_command_imports(name):
    module = importlib.import_module(f"benchmarks.{name}")
    assert module.__doc__


@pytest.mark.slow
def test_formulations_quick_runs_at_tiny_size(tmp_path, capsys, feature_cache, monkeypatch):  # noqa: F811
    """`--quick` end to end on 8x8 digits for one formulation (the others differ only in the
    sweep's overrides, all run by tests/test_formulations_cli.py): it trains, is scored at both
    NFEs, and the table lands in its section of the given Markdown file."""
    import json

    from benchmarks import formulations
    from diffkit_builtin.metrics.classifier import CACHE_ENV

    monkeypatch.setenv(CACHE_ENV, str(feature_cache))
    tiny = ["data.name=digits", "data.image_size=8", "data.batch_size=16", "denoiser.channels=[8,16]",
            "denoiser.attention_resolutions=[]", "denoiser.num_heads=1", "time_embedding.dim=8"]
    doc = tmp_path / "perf.md"
    args = ["--quick", "--budget", "0.5", "--samples", "16", "--doc", str(doc), "--only", "edm"]
    assert formulations.main([*args, *(f"--set={o}" for o in tiny)]) == 0
    res = json.loads(capsys.readouterr().out)
    assert [r["formulation"] for r in res["results"]] == ["edm"]
    assert all([s["nfe"] for s in r["scores"]] == [10, 25] and r["steps"] >= 10 for r in res["results"])
    text = doc.read_text()
    assert "<!-- BEGIN formulations -->" in text and "| edm | " in text and "Best FID at 10 NFE" in text


MACHINE = {"cpu": "Test CPU 9000", "cpu_bf16": "emulated", "cpu_cores": 2, "torch_threads": 1, "torch": "2.x",
           "gpu": None, "load_average": [0.1, 0.1, 0.1], "quick": True}


def test_switches_and_peer_ratios_are_computed_from_the_measured_rows():
    def row(network, option, train, sample, **extra):
        return {"network": network, "option": option, "switch": f"s.{option}", "train": {"images_per_sec": train},
                "sample": {"images_per_sec": sample}, **extra}

    res = {"machine": MACHINE, "throughput": [
        row("net", "baseline", 10.0, 20.0), row("net", "channels_last", 15.0, 10.0),
        {"network": "net", "option": "bf16", "emulated": True, "skipped": "bf16 is emulated"},
    ]}
    text = report.switches_md(res)
    assert "Test CPU 9000, bf16 emulated" in text
    assert "| net | channels_last (`s.channels_last`) | **1.50x** | 0.50x |" in text
    assert "| net | bf16 (emulated bf16) | skipped: bf16 is emulated | |" in text
    peers = [{"network": "n", "peer": "p", "train_ratio": 0.8, "sample_ratio": 1.25, "parameters": [1e6, 1e6],
              "train": [8, 10], "sample": [5, 4]}, {"network": "n", "peer": "q", "skipped": "not installed"}]
    assert report.peers_md({"machine": MACHINE, "peers": peers}).endswith(
        "In this run diffkit is slower than p in training (0.80x) and faster than it in sampling (1.25x).")


def test_sampling_and_recipes_sections_are_generated_from_their_results(tmp_path):
    from benchmarks import recipes, sampling

    rows = [{"sampler": s, "steps": n, "fid": fid, "seconds_per_image": 0.01}
            for s, n, fid in (("ddim", 10, 30.0), ("heun", 10, 25.0), ("ddim", 20, 27.0))]
    result = {"run_dir": "r", "num_timesteps": 200, "num_images": 500, "train_step": 1500,
              "feature_space": "classifier", "rows": rows, "train_seconds": 91.2, "quick": False, "machine": MACHINE}
    text = sampling.section_md(result)
    assert "(Test CPU 9000)" in text and "1500 steps, 91 s" in text and "| heun | 10 | 25.00 | 10.0 |" in text
    assert text.endswith("Lowest FID per step count: 10: heun (25.00); 20: ddim (27.00).")
    res = {"quick": False, "budget_seconds_per_recipe": 75.0, "samples": 1000, "sampler": "ddim, 50 steps",
           "fid_floor_train_vs_test": 0.45, "machine": MACHINE, "results": [
               {"recipe": "seed", "steps": 491, "images_per_sec": 500.0, "parameters": 930000, "fid": 50.0,
                "sample_seconds": 30.0},
               {"recipe": "modern", "steps": 278, "images_per_sec": 250.0, "parameters": 1190000, "fid": 10.0,
                "sample_seconds": 45.8}]}
    doc = tmp_path / "perf.md"
    report.replace_section(doc, "recipes", recipes.section_md(res))
    text = doc.read_text()
    assert "(Test CPU 9000)" in text and "| modern | 278 | 250.0 | 1.19M | 10.0 | 45.8 |" in text
    assert "trains at 0.50x the images/s of the seed recipe and reaches a 5.0x lower FID." in text


@pytest.mark.slow
def test_sampling_command_writes_its_section(tmp_path, capsys, feature_cache, monkeypatch):  # noqa: F811
    """`benchmarks.sampling --run-dir` on a tiny digits run (T = 20: DDIM etc. at 10 steps and
    DDPM at 20) scores every sampler and puts its section into the given Markdown file."""
    import json

    from benchmarks import sampling
    from benchmarks.common import load, quiet_overrides
    from diffkit.runner.train import train
    from diffkit_builtin.metrics.classifier import CACHE_ENV

    monkeypatch.setenv(CACHE_ENV, str(feature_cache))
    tiny = ["data.name=digits", "data.image_size=8", "data.batch_size=16", "denoiser.channels=[8,16]",
            "time_embedding.dim=8", "scheduler.num_timesteps=20", "train.device=cpu"]
    run_dir = train(*load([*tiny, *quiet_overrides(tmp_path / "run", 4, 2)]))
    doc = tmp_path / "perf.md"
    assert sampling.main(["--run-dir", str(run_dir), "--num", "16", "--device", "cpu", "--doc", str(doc)]) == 0
    res = json.loads(capsys.readouterr().out)
    assert [(r["sampler"], r["steps"]) for r in res["rows"]] == [
        ("ddim", 10), ("dpm_solver_pp", 10), ("heun", 10), ("ddpm", 10), ("ddpm", 20)]
    text = doc.read_text()
    assert "<!-- BEGIN sampling -->" in text and "| ddpm | 20 | " in text and "Lowest FID per step count: 10: " in text
