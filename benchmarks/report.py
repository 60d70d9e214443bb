"""Markdown tables from the benchmark JSON, written between markers in docs/performance.md."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

TITLE = "# Performance\n\nFigures from `python -m benchmarks.run` (see `benchmarks/`); other sections come from other benchmarks.\n"


def replace_section(path: Path, name: str, body: str) -> None:
    """Put `body` between ``<!-- BEGIN name -->`` and ``<!-- END name -->`` in `path`,
    appending the markers when missing; the rest of the file is kept as it is."""
    begin, end = f"<!-- BEGIN {name} -->", f"<!-- END {name} -->"
    text = path.read_text() if path.exists() else TITLE
    block = f"{begin}\n{body.rstrip()}\n{end}"
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.S)
    text = pattern.sub(lambda _: block, text) if pattern.search(text) else text.rstrip() + f"\n\n{block}\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def _machine(m: dict[str, Any]) -> str:
    gpu = m["gpu"] or "no GPU"
    bf16 = f", bf16 {m['cpu_bf16']}" if "cpu_bf16" in m else ""
    return (
        f"Machine: {m['cpu_cores']} CPU cores ({m['cpu']}{bf16}), {gpu}, torch {m['torch']}, "
        f"{m['torch_threads']} torch thread(s), load average at start {m['load_average']} (1, 5 and 15-minute "
        "averages: they include a benchmark that ran just before). "
        + f"Mode: {'--quick' if m.get('quick') else 'full'}."
    )


def overhead_md(res: dict[str, Any]) -> str:
    lines = [
        "## Runner overhead",
        "",
        _machine(res["machine"]),
        "",
        "Runner (`diffkit.runner.train.train`, sampling and checkpoints off) vs a bare hand-written loop "
        "on the same model, data, optimizer, batch size, threads, precision and memory format, alternating "
        "blocks inside one run (a `diffkit_log` hook runs the bare block). Ratio = runner s/step / bare "
        "s/step; spread = min [quartiles] max over the pairs. Target: median ratio in [0.95, 1.03].",
        "",
        "| config | precision | block steps | pairs | runner ms/step | bare ms/step | median ratio | spread | "
        "per-pair ratios |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in res["overhead"]:
        sp = r.get("ratio_spread")
        spread = f"{sp['min']} [{sp['q1']}, {sp['q3']}] {sp['max']}" if sp else "-"
        lines.append(
            f"| `{' '.join(r['config'])}` | {r.get('precision', '?')}{' channels_last' if r.get('channels_last') else ''} | "
            f"{r['block_steps']} | {r['pairs']} | {r['runner_ms_per_step']} | "
            f"{r['bare_ms_per_step']} | **{r['median_ratio']}** | {spread} | {', '.join(map(str, r['ratios']))} |"
        )
    return "\n".join(lines)


def _mem(m: dict[str, Any]) -> str:
    if "cuda_peak_mib" in m:
        return f"{m['cuda_peak_mib']:.0f} (CUDA)"
    return f"{m.get('rss_peak_mib', 0):.0f} / +{m.get('rss_rise_mib', 0):.0f}"


def _block_spread(train: dict[str, Any]) -> str:
    lo_hi = train.get("spread")
    return f" [{lo_hi[0]}, {lo_hi[1]}]" if lo_hi else ""


def throughput_md(res: dict[str, Any]) -> str:
    lines = [
        "## Throughput per switch",
        "",
        _machine(res["machine"]),
        "",
        "images/s: training, the median of blocks of Adam steps [slowest, fastest block]; memory is peak "
        "RSS / its rise during the case in MiB (allocator peak on CUDA). "
        "Sampling: DDPM over a T-step schedule, one batch; its memory rise reads ~0 because it "
        "reuses memory the training case freed in the same process (fresh-process figures: *Peak memory*).",
        "",
        "| network | params | option (switch) | train batch | train img/s | train mem | "
        "sample batch x steps | sample img/s | sample mem |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in res["throughput"]:
        if "skipped" in r:
            lines.append(f"| {r['network']} | | {r['option']} | | skipped: {r['skipped']} | | | | |")
            continue
        tr, sa = r["train"], r["sample"]
        lines.append(
            f"| {r['network']} | {r['parameters'] / 1e6:.2f}M | {r['option']}{' (emulated)' if r.get('emulated') else ''} "
            f"(`{r['switch'] or '-'}`) | "
            f"{r['train_batch']} | {tr['images_per_sec']}{_block_spread(tr)} | {_mem(tr)} | "
            f"{r['sample_batch']} x {r['sample_steps']} | "
            f"{sa['images_per_sec']} | {_mem(sa)} |"
        )
    return "\n".join(lines)


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b else "-"


def switches_md(res: dict[str, Any]) -> str:
    """Per network, each switch's images/s over the baseline's from the throughput rows."""
    lines = [
        "## Switches measured",
        "",
        _machine(res["machine"]),
        "",
        "From the *Throughput per switch* rows of the same run: images/s with the switch on / images/s of "
        "the network's baseline (> 1: the switch is faster).",
        "",
        "| network | option (switch) | training | sampling |",
        "|---|---|---|---|",
    ]
    base = {r["network"]: r for r in res["throughput"] if r["option"] == "baseline" and "skipped" not in r}
    for r in res["throughput"]:
        if r["option"] == "baseline":
            continue
        b = base.get(r["network"])
        option = f"{r['option']}{' (emulated bf16)' if r.get('emulated') else ''}"
        if "skipped" in r or b is None:
            lines.append(f"| {r['network']} | {option} | skipped: {r.get('skipped', 'no baseline row')} | |")
            continue
        lines.append(
            f"| {r['network']} | {option} (`{r['switch']}`) | "
            f"**{_ratio(r['train']['images_per_sec'], b['train']['images_per_sec'])}** | "
            f"{_ratio(r['sample']['images_per_sec'], b['sample']['images_per_sec'])} |"
        )
    return "\n".join(lines)


def _peer_sentence(rows: list[dict[str, Any]]) -> str:
    def word(r: dict[str, Any], kind: str) -> str:
        lo, hi = r.get(f"{kind}_ratio_spread") or [r[f"{kind}_ratio"]] * 2
        return "faster than" if lo > 1 else "slower than" if hi < 1 else "not measurably faster or slower than"

    def phrase(r: dict[str, Any]) -> str:
        train, sample = word(r, "train"), word(r, "sample")
        return (
            f"{train} {r['peer']} in training ({r['train_ratio']:.2f}x) and "
            f"{'' if sample == train else sample + ' it '}in sampling ({r['sample_ratio']:.2f}x)"
        )

    parts = [phrase(r) for r in rows if "skipped" not in r]
    return f"In this run diffkit is {'; '.join(parts)}." if parts else "No peer was measured in this run."


def _span(r: dict[str, Any], kind: str) -> str:
    lo_hi = r.get(f"{kind}_ratio_spread")
    return f"[{lo_hi[0]}, {lo_hi[1]}]" if lo_hi else ""


def peers_md(res: dict[str, Any]) -> str:
    lines = [
        "## Against peers",
        "",
        _machine(res["machine"]),
        "",
        "Each library's own noising, loss and DDPM sampling loop, fp32, the same batch (that of the "
        "unet 32x32 rows of *Throughput per switch*) and threads; the peer's base width is chosen to match "
        "diffkit's parameter count. Training blocks and sample draws alternate between diffkit and the peer; "
        "ratio = the median over those pairs of peer seconds / diffkit seconds (> 1: diffkit faster), with "
        "the slowest and fastest pair in brackets.",
        "",
        "| diffkit network | peer | params diffkit / peer | batch | train img/s diffkit / peer | train ratio | "
        "sample img/s diffkit / peer | sample ratio |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in res["peers"]:
        if "skipped" in r:
            lines.append(f"| {r['network']} | {r['peer']} | skipped: {r['skipped']} | | | | | |")
            continue
        lines.append(
            f"| {r['network']} | {r['peer']} | {r['parameters'][0] / 1e6:.2f}M / {r['parameters'][1] / 1e6:.2f}M | "
            f"{r['batch']} | {r['train'][0]} / {r['train'][1]} | **{r['train_ratio']}** {_span(r, 'train')} | "
            f"{r['sample'][0]} / {r['sample'][1]} | **{r['sample_ratio']}** {_span(r, 'sample')} |"
        )
    return "\n".join([*lines, "", _peer_sentence(res["peers"])])


def memory_md(res: dict[str, Any]) -> str:
    lines = [
        "## Peak memory",
        "",
        _machine(res["machine"]),
        "",
        "unet 32x32 (3.7M parameters), each case in a fresh process; MiB of peak resident memory "
        "(allocator peak on CUDA) and its rise over the process after building the model.",
        "",
        "| case | batch | images | peak MiB | rise MiB |",
        "|---|---|---|---|---|",
    ]
    for r in res["memory"]:
        peak = r.get("cuda_peak_mib", r.get("rss_peak_mib"))
        lines.append(f"| {r['kind']} | {r['batch']} | {r['num'] or '-'} | {peak} | {r.get('rss_rise_mib', '-')} |")
    return "\n".join(lines)
