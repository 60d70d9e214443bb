"""``python -m benchmarks.posthoc_ema`` end to end at tiny size (no timings)."""

from __future__ import annotations

import json

import pytest

from benchmarks import posthoc_ema
from diffkit_builtin.metrics.classifier import CACHE_ENV
from tests.conftest import TINY
from tests.test_metrics import feature_cache  # noqa: F401 - the digits-8 feature classifier


@pytest.mark.slow
def test_posthoc_benchmark_reports_fixed_and_best_lengths_per_seed(tmp_path, capsys, feature_cache, monkeypatch):  # noqa: F811
    monkeypatch.setenv(CACHE_ENV, str(feature_cache))
    doc = tmp_path / "page.md"
    args = ["--seeds", "2", "--lengths", "0.05,0.15", "--num", "16", "--snapshot-every", "2", "--out", str(tmp_path)]
    args += ["--doc", str(doc)]
    assert posthoc_ema.main([*args, *(f"--set={o}" for o in TINY)]) == 0
    res = json.loads(capsys.readouterr().out)
    assert [r["seed"] for r in res["rows"]] == [0, 1] and res["lengths"] == [0.05, 0.15]
    for row in res["rows"]:
        assert set(row["posthoc"]) == {"0.05", "0.15"} and row["best_chosen_set"] == min(row["posthoc"].values())
        assert row["fixed"] > 0 and row["best"] > 0 and row["step"] == 6
        assert row["best"] != row["best_chosen_set"]  # scored again on a fresh sample set
    s = res["summary"]
    assert s["seeds"] == 2 and s["best_posthoc"]["std"] is not None
    assert s["best_posthoc"]["mean"] == pytest.approx(sum(r["best"] for r in res["rows"]) / 2)
    text = doc.read_text()
    assert "<!-- BEGIN posthoc_ema -->" in text and "| seed | steps | σ_rel 0.05 | σ_rel 0.15 | best |" in text
    assert f"in {s['posthoc_better_in']} of 2 seeds" in text
