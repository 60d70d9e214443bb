"""Post-hoc EMA lengths in TensorBoard's HParams dashboard: each length a session of its
own, ``RUN/posthoc_ema/ema<length>``, with the run's hyperparameters plus ``ema.sigma_rel``
and the length's scores unsuffixed, so the dashboard compares lengths like any setting."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from diffkit.runner.posthoc import split
from diffkit_builtin.trackers import tb_hparams

FOLDER = "posthoc_ema"


def by_length(metrics: dict[str, float]) -> dict[float, dict[str, float]]:
    """``{"eval/fid@ema0.08": v}`` -> ``{0.08: {"eval/fid": v}}``; unsuffixed keys are left out."""
    out: dict[float, dict[str, float]] = {}
    for name, value in metrics.items():
        base, length = split(name)
        if length is not None:
            out.setdefault(length, {})[base] = value
    return out


def write_sessions(run_dir: Path, step: int, metrics: dict[str, float], shown: dict[str, Any]) -> list[Path]:
    """One HParams session per length in `metrics` (replacing that length's earlier one)."""
    from torch.utils.tensorboard import SummaryWriter

    written = []
    for length, scores in by_length(metrics).items():
        folder = Path(run_dir) / FOLDER / f"ema{length:g}"
        old = list(folder.glob("events.out.tfevents.*"))
        writer = SummaryWriter(log_dir=str(folder))
        writer.file_writer.add_summary(tb_hparams.start_summary({**shown, "ema.sigma_rel": length}), step)
        for name, value in scores.items():
            writer.add_scalar(name, value, step)
        end = tb_hparams.end_summary("completed")
        if end is not None:
            writer.file_writer.add_summary(end, step)
        writer.close()
        for path in old:  # the new file is complete: the old session is replaced
            path.unlink(missing_ok=True)
        written.append(folder)
    return written
