"""What the TensorBoard tracker puts in the HParams dashboard: which hyperparameters,
which metrics, and the session start/end records of a run.

A run writes its session start (its hyperparameters) when it starts, so running and
failed runs are listed too, and its session end with the status when it stops. A
completed run also writes the experiment record: the hyperparameter columns and the
metric columns with descriptions, `METRICS` plus the plugin metrics it computed (their
``Metric.higher_is_better`` and ``Metric.description``). TensorBoard takes the columns
from one such record; until a run of the directory has completed, it infers them. The
columns are ``run.hparams`` (a sweep sets the keys its grid varies), else `CURATED`.
Integers (seed, steps) are shown as integers: written as text, since the HParams
plugin's only number type is a float shown as 0.0000.
"""

from __future__ import annotations

import time
from typing import Any

#: the hyperparameters of a run outside a sweep (those the run's config has).
CURATED = (
    "data.name",
    "data.image_size",
    "scheduler.name",
    "scheduler.num_timesteps",
    "time_embedding.name",
    "denoiser.name",
    "loss.name",
    "sampler.name",
    "optim.lr",
    "train.steps",
    "seed",
)

#: the built-in metric columns, with their descriptions; bookkeeping values (`BOOKKEEPING`)
#: are not among them.
METRICS = {
    "eval/fid": "Frechet distance between real (test split) and generated features; lower is better",
    "eval/precision": "share of generated images inside the real images' k-NN manifold; higher is better",
    "eval/recall": "share of real images inside the generated images' k-NN manifold; higher is better",
    "train/loss": "training loss at the last logged step (scales differ between losses)",
}

#: constant facts of a run or an evaluation: in the text summaries and metrics.json, not scalar cards.
BOOKKEEPING = ("eval/num_samples", "eval/sampling_steps", "eval/checkpoint_step", "eval/repeats", "train/global_batch")

#: run status -> the hparams plugin's session status. An interrupted run writes no
#: session end: it is resumed later, and TensorBoard keeps the first end it reads.
STATUS = {"completed": "STATUS_SUCCESS", "failed": "STATUS_FAILURE"}


def select(hparams: dict[str, Any], keys: list[str] | None) -> dict[str, Any]:
    """The entries of the flat `hparams` named by `keys` (a key also selects the
    entries under it: ``scheduler`` -> ``scheduler.name``, ...), else the curated ones."""
    wanted = list(keys) if keys else list(CURATED)
    return {k: v for w in wanted for k, v in hparams.items() if k == w or k.startswith(w + ".")}


def _value(value: Any) -> bool | float | str:
    """bool and float as they are; an integer as its digits (shown as 3, not 3.0000); else text."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return value
    return str(value)


def metric_infos(declared: dict[str, dict[str, Any]], present: Any = None) -> dict[str, str]:
    """The metric columns: those of `METRICS` among the tags `present` (all when None), then
    each declared plugin metric ``{tag: {higher_is_better, description}}`` with its direction
    appended to its description."""
    columns = {tag: text for tag, text in METRICS.items() if present is None or tag in present}
    for tag, info in declared.items():
        if tag not in columns:
            direction = "higher is better" if info.get("higher_is_better") else "lower is better"
            columns[tag] = "; ".join(t for t in (str(info.get("description") or "").strip(), direction) if t)
    return columns


def experiment_summary(
    hparams: dict[str, Any], declared: dict[str, dict[str, Any]] | None = None, present: Any = None
) -> Any:
    """The experiment record: hyperparameter columns (types of `hparams`' values) and metric
    columns (`metric_infos`: no empty column for a built-in metric the run did not compute)."""
    from tensorboard.plugins.hparams import api_pb2, metadata, plugin_data_pb2

    values = {k: _value(v) for k, v in hparams.items()}
    kinds = {bool: api_pb2.DATA_TYPE_BOOL, float: api_pb2.DATA_TYPE_FLOAT64, str: api_pb2.DATA_TYPE_STRING}
    experiment = api_pb2.Experiment(
        hparam_infos=[api_pb2.HParamInfo(name=k, type=kinds[type(v)]) for k, v in values.items()],
        metric_infos=[
            api_pb2.MetricInfo(name=api_pb2.MetricName(tag=tag), display_name=tag, description=text)
            for tag, text in metric_infos(declared or {}, present).items()
        ],
        time_created_secs=time.time(),
    )
    return _summary(metadata.EXPERIMENT_TAG, plugin_data_pb2.HParamsPluginData(experiment=experiment))


def start_summary(hparams: dict[str, Any]) -> Any:
    """The session start of a run: its hyperparameter values."""
    from tensorboard.plugins.hparams import metadata, plugin_data_pb2

    start = plugin_data_pb2.SessionStartInfo(start_time_secs=time.time())
    for key, value in ((k, _value(v)) for k, v in hparams.items()):
        field = {bool: "bool_value", float: "number_value", str: "string_value"}[type(value)]
        setattr(start.hparams[key], field, value)
    return _summary(metadata.SESSION_START_INFO_TAG, plugin_data_pb2.HParamsPluginData(session_start_info=start))


def end_summary(status: str) -> Any | None:
    """The session-end summary of a completed (success) or failed (failure) run, else None."""
    from tensorboard.plugins.hparams import api_pb2, metadata, plugin_data_pb2

    if status not in STATUS:
        return None
    end = plugin_data_pb2.SessionEndInfo(status=getattr(api_pb2, STATUS[status]), end_time_secs=time.time())
    return _summary(metadata.SESSION_END_INFO_TAG, plugin_data_pb2.HParamsPluginData(session_end_info=end))


def _summary(tag: str, data: Any) -> Any:
    """A Summary proto holding hparams plugin data (what tensorboard's own writer
    makes, without its TensorFlow import)."""
    from tensorboard.compat.proto.summary_pb2 import Summary, SummaryMetadata
    from tensorboard.plugins.hparams import metadata

    data.version = metadata.PLUGIN_DATA_VERSION
    plugin = SummaryMetadata.PluginData(plugin_name=metadata.PLUGIN_NAME, content=data.SerializeToString())
    return Summary(value=[Summary.Value(tag=tag, metadata=SummaryMetadata(plugin_data=plugin))])
