"""The benchmark code path on tiny inputs (speed itself is measured only by benchmarks/)."""

from __future__ import annotations

import importlib
import os

import pytest
import torch
from torch import nn

from benchmarks import overhead, report
from benchmarks.levers import BF16
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
    from diffkit.runner.device import resolve_precision

    assert res["precision"] == resolve_precision(torch.device("cpu"), "auto")  # the runner's precision, both sides
    sp = res["ratio_spread"]
    assert sp["min"] <= sp["q1"] <= sp["q3"] <= sp["max"] and sp["min"] == min(res["ratios"])


def test_the_bare_loop_autocasts_like_the_runner(monkeypatch):
    """fp32 config: no autocast; bf16: the bare loop's forward runs under bf16 autocast (the runner's)."""
    seen = []
    for precision in ("fp32", "bf16"):
        bare = overhead.BareLoop(
            [
                *TINY,
                "scheduler.num_timesteps=50",
                "train.device=cpu",
                f"train.precision={precision}",
                "train.channels_last=true",
            ]
        )
        bare.model.register_forward_hook(lambda m, i, o: seen.append((torch.is_autocast_enabled("cpu"), o.dtype)))
        bare.step()
        assert bare.precision == precision and bare.channels_last
    assert seen == [(False, torch.float32), (True, torch.bfloat16)]


@pytest.mark.parametrize(
    "name",
    [
        "run",
        "overhead",
        "throughput",
        "peers",
        "memory",
        "sampling",
        "recipes",
        "formulations",
        "budget",
        "peer_denoisers",
        "exact_tier",
        "levers",
        "efficiency",
        "posthoc_ema",
    ],
)
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
    tiny = [
        "data.name=digits",
        "data.image_size=8",
        "data.batch_size=16",
        "denoiser.channels=[8,16]",
        "denoiser.attention_resolutions=[]",
        "denoiser.num_heads=1",
        "time_embedding.dim=8",
    ]
    doc = tmp_path / "perf.md"
    args = ["--quick", "--budget", "0.5", "--samples", "16", "--doc", str(doc), "--only", "edm"]
    assert formulations.main([*args, *(f"--set={o}" for o in tiny)]) == 0
    res = json.loads(capsys.readouterr().out)
    assert [r["formulation"] for r in res["results"]] == ["edm"]
    assert all([s["nfe"] for s in r["scores"]] == [10, 25] and r["steps"] >= 10 for r in res["results"])
    text = doc.read_text()
    assert "<!-- BEGIN formulations -->" in text and "| edm | " in text and "Best FID at 10 NFE" in text


MACHINE = {
    "cpu": "Test CPU 9000",
    "cpu_bf16": "emulated",
    "cpu_cores": 2,
    "torch_threads": 1,
    "torch": "2.x",
    "gpu": None,
    "load_average": [0.1, 0.1, 0.1],
    "quick": True,
}


def test_switches_and_peer_ratios_are_computed_from_the_measured_rows():
    def row(network, option, train, sample, **extra):
        return {
            "network": network,
            "option": option,
            "switch": f"s.{option}",
            "train": {"images_per_sec": train},
            "sample": {"images_per_sec": sample},
            **extra,
        }

    res = {
        "machine": MACHINE,
        "throughput": [
            row("net", "baseline", 10.0, 20.0),
            row("net", "channels_last", 15.0, 10.0),
            {"network": "net", "option": "bf16", "emulated": True, "skipped": "bf16 is emulated"},
        ],
    }
    text = report.switches_md(res)
    assert "Test CPU 9000, bf16 emulated" in text
    assert "| net | channels_last (`s.channels_last`) | **1.50x** | 0.50x |" in text
    assert "| net | bf16 (emulated bf16) | skipped: bf16 is emulated | |" in text
    peers = [
        {
            "network": "n",
            "peer": "p",
            "train_ratio": 0.8,
            "train_ratio_spread": [0.7, 0.9],
            "sample_ratio": 1.25,
            "sample_ratio_spread": [1.1, 1.3],
            "parameters": [1e6, 1e6],
            "batch": 16,
            "train": [8, 10],
            "sample": [5, 4],
        },
        {
            "network": "n",
            "peer": "r",
            "train_ratio": 1.02,
            "train_ratio_spread": [0.95, 1.1],
            "sample_ratio": 1.02,
            "sample_ratio_spread": [0.95, 1.1],
            "parameters": [1e6, 1e6],
            "batch": 16,
            "train": [8, 8],
            "sample": [5, 5],
        },
        {"network": "n", "peer": "q", "skipped": "not installed"},
    ]
    assert report.peers_md({"machine": MACHINE, "peers": peers}).endswith(
        "In this run diffkit is slower than p in training (0.80x) and faster than it in sampling (1.25x); "
        "not measurably faster or slower than r in training (1.02x) and in sampling (1.02x)."
    )


def test_sampling_and_recipes_sections_are_generated_from_their_results(tmp_path):
    from benchmarks import recipes, sampling

    rows = [
        {"sampler": s, "steps": n, "fid": fid, "seconds_per_image": 0.01}
        for s, n, fid in (("ddim", 10, 30.0), ("heun", 10, 25.0), ("ddim", 20, 27.0))
    ]
    result = {
        "run_dir": "r",
        "num_timesteps": 200,
        "num_images": 500,
        "train_step": 1500,
        "feature_space": "classifier",
        "rows": rows,
        "train_seconds": 91.2,
        "quick": False,
        "machine": MACHINE,
    }
    text = sampling.section_md(result)
    assert "(Test CPU 9000)" in text and "1500 steps, 91 s" in text and "| heun | 10 | 25.00 | 10.0 |" in text
    assert text.endswith("Lowest FID per step count: 10: heun (25.00); 20: ddim (27.00).")
    res = {
        "quick": False,
        "budget_seconds_per_recipe": 75.0,
        "samples": 1000,
        "sampler": "ddim, 50 steps",
        "fid_floor_train_vs_test": 0.45,
        "machine": MACHINE,
        "results": [
            {
                "recipe": "seed",
                "steps": 491,
                "images_per_sec": 500.0,
                "parameters": 930000,
                "fid": 50.0,
                "sample_seconds": 30.0,
            },
            {
                "recipe": "modern",
                "steps": 278,
                "images_per_sec": 250.0,
                "parameters": 1190000,
                "fid": 10.0,
                "sample_seconds": 45.8,
            },
        ],
    }
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
    tiny = [
        "data.name=digits",
        "data.image_size=8",
        "data.batch_size=16",
        "denoiser.channels=[8,16]",
        "time_embedding.dim=8",
        "scheduler.num_timesteps=20",
        "train.device=cpu",
    ]
    run_dir = train(*load([*tiny, *quiet_overrides(tmp_path / "run", 4, 2)]))
    doc = tmp_path / "perf.md"
    assert sampling.main(["--run-dir", str(run_dir), "--num", "16", "--device", "cpu", "--doc", str(doc)]) == 0
    res = json.loads(capsys.readouterr().out)
    assert [(r["sampler"], r["steps"]) for r in res["rows"]] == [
        ("ddim", 10),
        ("dpm_solver_pp", 10),
        ("heun", 10),
        ("ddpm", 10),
        ("ddpm", 20),
    ]
    text = doc.read_text()
    assert "<!-- BEGIN sampling -->" in text and "| ddpm | 20 | " in text and "Lowest FID per step count: 10: " in text


#: the budget benchmark's arms shrunk to 8x8 digits (2 levels need a multiple of 4).
BUDGET_TINY = [
    "data.name=digits",
    "data.root=null",
    "data.image_size=8",
    "data.batch_size=16",
    "denoiser.channels=[8,16]",
    "denoiser.attention_resolutions=[]",
    "denoiser.num_heads=1",
    "time_embedding.dim=8",
    "train.precision=fp32",
]


@pytest.mark.slow
def test_budget_quick_trains_each_arm_for_its_budget_and_writes_the_table(
    tmp_path,
    capsys,
    feature_cache,  # noqa: F811
    monkeypatch,
):  # noqa: F811
    """`benchmarks.budget --quick` through the real runner on 8x8 digits: the recipe and the flow
    config each train for a 2 s budget (planned after warm-up), are scored, and the table with the
    ratio sentence lands in the given file."""
    import json

    from benchmarks import budget
    from diffkit_builtin.metrics.classifier import CACHE_ENV

    monkeypatch.setenv(CACHE_ENV, str(feature_cache))
    doc = tmp_path / "perf.md"
    args = ["--quick", "--budgets", "2s", "--samples", "16", "--only", "recipe,flow", "--doc", str(doc)]
    assert budget.main([*args, *(f"--set={o}" for o in BUDGET_TINY)]) == 0
    res = json.loads(capsys.readouterr().out)
    assert [(r["arm"], r["budget"], r["seed"]) for r in res["results"]] == [("recipe", "2s", 0), ("flow", "2s", 0)]
    for r in res["results"]:
        assert r["steps"] == r["planned_steps"] >= 10 and r["images"] == 16 * r["steps"] and r["fid"] > 0
    assert [s["n"] for s in res["summary"]] == [1, 1] and res["summary"][0]["fid"]["std"] is None
    text = doc.read_text()
    assert "<!-- BEGIN budget -->" in text and "| recipe | `configs/cpu/fashion_mnist.yaml` | 2s |" in text
    assert "At 2s, other arm's mean FID / the recipe's: flow " in text


def test_budget_summary_has_the_seed_spread_and_skips_missing_peers():
    from benchmarks import budget

    runs = [
        {
            "arm": "recipe",
            "budget": "2m",
            "seed": s,
            "fid": fid,
            "precision": 0.5,
            "recall": 0.4,
            "steps": 100,
            "train_seconds": 120.0,
            "config": "c",
            "parameters": 1e6,
        }
        for s, fid in ((0, 10.0), (1, 12.0))
    ]
    runs += [
        {
            "arm": "flow",
            "budget": "2m",
            "seed": 0,
            "fid": 33.0,
            "precision": 0.5,
            "recall": 0.4,
            "steps": 90,
            "train_seconds": 120.0,
            "config": "f",
            "parameters": 1e6,
        },
        {"arm": "diffusers", "budget": "2m", "seed": 0, "skipped": "not installed"},
    ]
    runs[1]["train_seconds"] = 113.0
    assert budget.on_time(runs) == (
        "Training time / budget over the 3 runs: 0.942 to 1.000; 2 of 3 within 5 % of the budget."
    )
    assert budget.on_time([{**runs[0], "budget": "3000img"}]) is None
    summary = budget.summarise(runs)
    assert summary[0]["fid"] == {"mean": 11.0, "std": round(2**0.5, 3)} and summary[0]["n"] == 2
    assert summary[2] == {"arm": "diffusers", "budget": "2m", "n": 0, "skipped": "not installed"}
    assert budget.ratios(summary) == [
        "At 2m, other arm's mean FID / the recipe's: flow 3.00x. The target of 2x lower FID than `flow` is met."
    ]
    summary[1]["fid"]["mean"] = 20.0
    summary.append({**summary[1], "arm": "diffusers", "fid": {"mean": 10.0, "std": None}})
    assert budget.ratios(summary) == [
        "At 2m, other arm's mean FID / the recipe's: flow 1.82x, diffusers 0.91x. The target of 2x lower FID "
        "than `flow` is not met. The recipe is not ahead of diffusers."
    ]


def test_a_training_step_is_counted_as_forward_plus_twice_its_work_backward():
    """FlopCounterMode on the recipe's network: a conv/linear backward computes the input and
    weight gradients, each as much work as the forward, so a step is ~3x the forward (less the
    first layer's input gradient, which is not needed)."""
    from torch.utils.flop_counter import FlopCounterMode

    from benchmarks import efficiency

    tiny = [*BUDGET_TINY, "train.device=cpu"]
    step = efficiency.step_flops(tiny, str(efficiency.ROOT / efficiency.CONFIG))
    composed, plugins = efficiency.load(tiny, str(efficiency.ROOT / efficiency.CONFIG))
    from diffkit.runner.build import build_components

    model = build_components(plugins.registry, composed.cfg, 1).denoiser
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(torch.randn(16, 1, 8, 8), torch.rand(16))
    forward = counter.get_total_flops()
    assert step["batch"] == 16 and step["precision"] == "fp32"
    assert 2.5 * forward < step["flops_per_step"] <= 3 * forward


def test_the_levers_and_efficiency_sections_are_written_from_their_results():
    from benchmarks import efficiency, levers

    stats = {"mean": 30.0, "std": None}
    res = {
        "command": "python -m benchmarks.levers --recipe recipe_fp32",
        "recipe": "recipe_fp32",
        "budget": "2m",
        "seeds": [0],
        "samples": 500,
        "machine": MACHINE,
        "summary": [
            {"arm": "search base", "lever": "search base", "n": 1, "fid": stats, "steps": stats},
            {"arm": "batch 64", "lever": "batch 64", "n": 1, "fid": {"mean": 40.0, "std": None}, "steps": stats},
        ],
    }
    for row in res["summary"]:
        row.update(precision=stats, recall=stats, train_seconds=stats)
    text = levers.table_md(res)
    assert (
        "| search base | `denoiser.patch_size=2` `denoiser.channels=[32,64]` `scheduler.density=uniform` | the shipped config | 30 | 30.0 |"
        in text
    )
    assert "| batch 64 | `data.batch_size=64` | search base | 30 | 30.0 | **40.0** |" in text
    shipped = levers.FP32.shipped
    assert f"**{shipped}** is that config as it is, the shipped recipe for CPUs without native bf16" in text
    assert "Lower mean FID" not in text  # the shipped row is not in this run: no comparison with it
    assert levers.FP32.overrides_of("batch 16")[-1] == "data.batch_size=16"  # the change last, after its parent's
    eff = {
        "command": "python -m benchmarks.efficiency",
        "config": "configs/cpu/fashion_mnist.yaml",
        "machine": MACHINE,
        "flops": {"flops_per_step": 2e9, "batch": 32, "precision": "fp32", "parameters": 1e6},
        "speed": {"seconds_per_step": 0.5, "spread": [0.4, 0.6]},
        "peak": 10e9,
        "fraction": 0.4,
    }
    assert "| 2.00 | 0.500 [0.400, 0.600] | 4.0 | 10.0 | **0.40** |" in efficiency.section(eff)


def test_the_bf16_levers_table_names_the_rows_that_beat_the_shipped_recipe():
    from benchmarks import levers

    def row(arm, fid, n=2):
        stats = {"mean": 30.0, "std": 1.0}
        return {"arm": arm, "lever": arm, "n": n, "fid": {"mean": fid, "std": 1.0}, "steps": stats}

    res: dict = {
        "command": "python -m benchmarks.levers --seeds 0,1",
        "recipe": "recipe",
        "budget": "2m",
        "seeds": [0, 1],
        "samples": 500,
        "machine": MACHINE,
        "summary": [row("as shipped", 5.0), row("fp32", 9.0), row("batch 32", 4.5), row("lr 2e-3", 4.0)],
    }
    for r in res["summary"]:
        r.update(precision=r["steps"], recall=r["steps"], train_seconds=r["steps"])
    text = levers.table_md(res)
    assert "## The levers of the CPU recipe with native bf16, each changed alone" in text
    assert "**as shipped** is `configs/cpu/fashion_mnist.yaml` as it is" in text
    assert "| **as shipped** (shipped) | - | - | 30 | 30.0 ± 1.0 | **5.0 ± 1.0** |" in text
    assert "Lower mean FID than **as shipped** in this run: lr 2e-3, batch 32." in text  # best first; fp32 not
    assert "Mean ± standard deviation over the seeds." in text and "One seed a row" not in text
    assert "uncompiled" not in text
    compiled = row("torch.compile, cold inductor cache", 20.0)
    compiled.update(lever="torch.compile", steps={"mean": 15.0, "std": None}, precision=compiled["fid"])
    res["summary"].append({**compiled, "recall": compiled["fid"], "train_seconds": compiled["fid"]})
    text = levers.table_md(res)
    assert (
        "**torch.compile, cold inductor cache** trained 15 steps in the budget against 30 uncompiled (0.50x)." in text
    )
    res["summary"] = [{**r, "n": 1} for r in res["summary"][:2]]
    text = levers.table_md(res)
    assert "No row has a lower mean FID than **as shipped** in this run. One seed a row" in text


@pytest.mark.parametrize("lever", list(BF16.levers))
def test_every_lever_of_the_bf16_recipe_composes_and_its_network_runs_at_28x28(plugins, lever):
    """The rows the ablation trains are real configs: each composes, validates and builds a
    network that maps (2, 1, 28, 28) to its own shape."""
    from benchmarks.budget import ARMS
    from diffkit.config import compose, validate
    from diffkit.runner.build import build_components
    from tests.conftest import REPO

    config, overrides = ARMS[BF16.arm]
    composed = compose(REPO / "configs" / config, [*overrides, *BF16.overrides_of(lever)], plugins.registry)
    validate(composed)
    denoiser = build_components(plugins.registry, composed.cfg, 1, 0).denoiser
    x = torch.randn(2, 1, 28, 28)
    assert denoiser(x, torch.rand(2)).shape == x.shape


def test_the_levers_compile_on_a_cache_of_their_own_unless_one_is_shared(tmp_path, monkeypatch):
    """A compiled lever's row says whether torch.compile started from a cold or a warm
    inductor cache: a fresh one per run of the benchmark, or TORCHINDUCTOR_CACHE_DIR when set."""
    from benchmarks.levers import _cache_state, _inductor_cache

    monkeypatch.delenv("TORCHINDUCTOR_CACHE_DIR", raising=False)
    with _inductor_cache(tmp_path / "fresh") as cache:
        assert cache == tmp_path / "fresh" and os.environ["TORCHINDUCTOR_CACHE_DIR"] == str(cache)
        assert _cache_state(cache) == "cold"
    assert "TORCHINDUCTOR_CACHE_DIR" not in os.environ
    shared = tmp_path / "shared"
    (shared / "fxgraph").mkdir(parents=True)
    assert _cache_state(shared) == "cold"  # folders alone hold no kernels
    (shared / "fxgraph" / "entry").write_text("kernel")
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(shared))
    with _inductor_cache(tmp_path / "fresh") as cache:
        assert cache == shared and _cache_state(cache) == "warm"
    assert os.environ["TORCHINDUCTOR_CACHE_DIR"] == str(shared)


def test_levers_named_on_the_command_line_may_hold_commas():
    from benchmarks.levers import FP32, named

    names = list(FP32.levers)
    assert named("batch 16,wider [48, 96],+ logit-normal t", names) == [
        "batch 16",
        "wider [48, 96]",
        "+ logit-normal t",
    ]
    with pytest.raises(ValueError, match="wider"):
        named("batch 16,wider [48]", names)
