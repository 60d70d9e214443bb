"""The config schema: runner sections are typed dataclasses; component sections
(``data``, ``scheduler``, ``time_embedding``, ``denoiser``, ``loss``, ``sampler``, ``ema``)
are ``{name: ..., **params}`` nodes whose params are checked against the named
component's constructor when it is built.

The defaults here are ``configs/default.yaml`` (a test keeps the two equal).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, is_dataclass
from typing import Any, Dict, List, Optional

#: config sections that name a registered component, and the registry kind of each.
COMPONENT_SECTIONS: dict[str, str] = {
    "data": "dataset",
    "scheduler": "scheduler",
    "time_embedding": "time_embedding",
    "denoiser": "denoiser",
    "loss": "loss",
    "sampler": "sampler",
    "ema": "ema",
}

#: keys of the ``data`` node that the runner reads; the rest go to the dataset.
DATA_RUNNER_KEYS: dict[str, type] = {"batch_size": int, "image_size": int, "num_workers": int}
#: keys of the ``ema`` node that the runner reads; the rest go to the EMA component.
EMA_RUNNER_KEYS: dict[str, type] = {"use_for_sampling": bool}
#: component sections -> their runner keys (kept when a command-line override renames the component).
RUNNER_KEYS: dict[str, dict[str, type]] = {"data": DATA_RUNNER_KEYS, "ema": EMA_RUNNER_KEYS}


def option(default: Any, help: str) -> Any:
    """A dataclass field whose meaning, ``help``, is kept in ``metadata`` for the
    generated config reference (``docs/gen_reference.py``)."""
    if isinstance(default, (list, dict)) or is_dataclass(default):
        return field(default_factory=lambda: copy.deepcopy(default), metadata={"help": help})
    return field(default=default, metadata={"help": help})


#: meanings of DATA_RUNNER_KEYS, for the generated reference.
DATA_RUNNER_HELP: dict[str, str] = {
    "batch_size": "images per optimizer step and process",
    "image_size": "side in pixels the images are resized to (H = W)",
    "num_workers": "worker processes for loading (the built-in in-memory batches ignore it)",
}
#: meanings of EMA_RUNNER_KEYS, for the generated reference.
EMA_RUNNER_HELP: dict[str, str] = {"use_for_sampling": "sample with the EMA weights when they exist"}


@dataclass
class RunConfig:
    """The ``run`` section: where a run is written and what it loads."""

    dir: Optional[str] = option(None, "run directory; null: runs/<time>-<config name>")
    keep_checkpoints: int = option(3, "numbered checkpoints kept besides last.pt")
    plugins: List[str] = option([], "plugin modules to load for this run, like -p MODULE")
    on_hook_error: Dict[str, str] = option(
        {}, "plugin name -> raise (stop the run) or warn (switch the plugin off), when one of its hooks fails"
    )
    hparams: Optional[List[str]] = option(
        None,
        "config keys trackers show as the run's hyperparameters (TensorBoard HParams); "
        "null: a short curated set; a sweep sets the keys its grid varies",
    )


@dataclass
class OptimConfig:
    """The ``optim`` section: lr_t = lr * warm-up(t) * schedule(t) (``runner/optim.py``)."""

    name: str = option("adam", "optimizer: adam | adamw | sgd")
    lr: float = option(1e-3, "peak learning rate")
    weight_decay: float = option(0.0, "weight decay (L2: adam, sgd; decoupled: adamw), not on biases or norm gains")
    betas: List[float] = option([0.9, 0.999], "Adam's (beta1, beta2); beta1 is the momentum for sgd")
    warmup_steps: int = option(0, "linear warm-up from 0 to lr over this many steps")
    warmup_fraction: Optional[float] = option(
        None,
        "warm-up as a fraction of the run's steps (replaces warmup_steps); null: under train.budget "
        "the config's warmup_steps / train.steps",
    )
    lr_schedule: str = option("constant", "constant | cosine (decays to 0 at the last step)")
    grad_clip: Optional[float] = option(None, "max global gradient norm; null: no clipping")


@dataclass
class TrainConfig:
    """The ``train`` section: the loop of ``runner/train.py``."""

    steps: Optional[int] = option(1200, "optimizer steps to train for; null when train.budget sets them")
    budget: Optional[str] = option(
        None,
        "train for a wall-clock duration (90s, 2m, 1.5h: measured after warm-up, then fixed in steps) or a "
        "number of images (300000img) instead of train.steps; a later layer's budget replaces train.steps",
    )
    log_every: int = option(100, "steps between logged losses")
    sample_every: int = option(600, "steps between sample grids (0: only at the end)")
    checkpoint_every: int = option(600, "steps between checkpoints (0: only at the end)")
    num_samples: int = option(64, "images in each sample grid")
    device: str = option("auto", "auto | cpu | cuda | cuda:N")
    precision: str = option(
        "auto",
        "auto (bf16, else fp16, on CUDA; bf16 on a CPU with native bf16; else fp32) | fp32 | bf16 | fp16 (CUDA only)",
    )
    accumulate: int = option(1, "gradient accumulation: micro-batches per optimizer step")
    on_nonfinite: str = option("stop", "on a NaN/inf loss: stop (keep the last good checkpoint) | skip the step")
    deterministic: bool = option(False, "torch.use_deterministic_algorithms(True)")
    progress: bool = option(True, "show a progress bar on a terminal")
    channels_last: bool = option(False, "channels-last memory format for the denoiser and batches")
    compile: bool = option(False, "torch.compile the denoiser")
    profile: bool = option(False, "write a torch profiler trace of a few steps")
    label_dropout: float = option(0.1, "classifier-free guidance: drop labels with this probability")
    conditional: bool = option(False, "condition on class labels when the data has them")
    sync_batchnorm: bool = option(False, "under DDP, BatchNorm statistics over the global batch (SyncBatchNorm; CUDA)")
    dist_timeout: float = option(600.0, "under DDP, seconds a rank waits for the others before failing")


@dataclass
class EvalConfig:
    """The ``eval`` section: sample-quality metrics computed when training completes."""

    metrics: List[Any] = option(
        [],
        "metrics computed when training completes, e.g. [fid, precision_recall]; "
        "an entry is a name or {name: fid, features: inception, weights: PATH}",
    )
    num_samples: int = option(500, "images generated for the metrics (compared with the test split)")
    steps: Optional[int] = option(None, "sampling steps for the metrics; null: the sampler's default")
    batch_size: int = option(250, "images sampled at once")


@dataclass
class DiffkitConfig:
    """A whole run config; each field's ``metadata["help"]`` is its meaning."""

    seed: int = option(0, "seed of every random number generator (rank r uses seed + r)")
    run: RunConfig = option(RunConfig(), "where the run is written and which plugins it loads")
    data: Dict[str, Any] = option(
        {"name": "digits", "root": None, "batch_size": 64, "image_size": 16, "num_workers": 0},
        "the dataset component; batch_size, image_size and num_workers are read by the runner",
    )
    scheduler: Dict[str, Any] = option(
        {"name": "linear", "num_timesteps": 1000, "beta_start": 1e-4, "beta_end": 0.02},
        "the noise schedule beta_t and its closed forms",
    )
    time_embedding: Dict[str, Any] = option({"name": "sinusoidal", "dim": 32}, "how the denoiser sees the timestep t")
    denoiser: Dict[str, Any] = option({"name": "unet", "channels": [32, 64, 128]}, "the network f(x_t, t)")
    loss: Dict[str, Any] = option({"name": "l1"}, "the training objective between prediction and target")
    sampler: Dict[str, Any] = option({"name": "ddpm"}, "the reverse-process algorithm")
    optim: OptimConfig = option(OptimConfig(), "the optimizer and learning-rate schedule")
    ema: Dict[str, Any] = option(
        {"name": "exponential", "decay": 0.0, "warmup": True, "use_for_sampling": True},
        "averages of the weights (exponential; power: post-hoc EMA); use_for_sampling is read by the runner",
    )
    train: TrainConfig = option(TrainConfig(), "the training loop")
    eval: EvalConfig = option(EvalConfig(), "sample-quality metrics at the end of training (see docs/ablations.md)")
