"""The benchmark code path on tiny inputs (speed itself is measured only by benchmarks/)."""

from __future__ import annotations

import importlib

import pytest
import torch
from torch import nn

from benchmarks import overhead, report
from benchmarks.peers import count, match_width
from benchmarks.run import TINY


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


@pytest.mark.parametrize("name", ["run", "overhead", "throughput", "peers", "memory", "sampling", "recipes"])
def test_every_benchmark_command_imports(name):
    module = importlib.import_module(f"benchmarks.{name}")
    assert module.__doc__
