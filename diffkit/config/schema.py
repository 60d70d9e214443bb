"""The config schema: runner sections are typed dataclasses; component sections
(``data``, ``scheduler``, ``time_embedding``, ``denoiser``, ``loss``, ``sampler``)
are ``{name: ..., **params}`` nodes whose params are checked against the named
component's constructor when it is built.

The defaults here are ``configs/default.yaml`` (a test keeps the two equal).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

#: config sections that name a registered component, and the registry kind of each.
COMPONENT_SECTIONS: dict[str, str] = {
    "data": "dataset",
    "scheduler": "scheduler",
    "time_embedding": "time_embedding",
    "denoiser": "denoiser",
    "loss": "loss",
    "sampler": "sampler",
}

#: keys of the ``data`` node that the runner reads; the rest go to the dataset.
DATA_RUNNER_KEYS: dict[str, type] = {"batch_size": int, "image_size": int, "num_workers": int}


@dataclass
class RunConfig:
    dir: Optional[str] = None  # run directory; None: runs/<timestamp>
    keep_checkpoints: int = 3  # numbered checkpoints kept besides last.pt
    plugins: List[str] = field(default_factory=list)  # plugin modules to load, like -p


@dataclass
class OptimConfig:
    name: str = "adam"  # adam | adamw | sgd
    lr: float = 1e-3
    weight_decay: float = 0.0
    betas: List[float] = field(default_factory=lambda: [0.9, 0.999])
    warmup_steps: int = 0  # linear warm-up from 0 to lr
    lr_schedule: str = "constant"  # constant | cosine (decays to 0 at train.steps)
    grad_clip: Optional[float] = None  # max global gradient norm


@dataclass
class EmaConfig:
    decay: float = 0.0  # 0 disables EMA
    warmup: bool = True  # decay_t = min(decay, (1 + t) / (10 + t))
    use_for_sampling: bool = True


@dataclass
class TrainConfig:
    steps: int = 3000
    log_every: int = 100
    sample_every: int = 1000
    checkpoint_every: int = 1000
    num_samples: int = 64  # images in each sample grid
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    precision: str = "fp32"  # fp32 | bf16 | fp16 (fp16: CUDA only)
    accumulate: int = 1  # gradient accumulation steps per optimizer step
    on_nonfinite: str = "stop"  # stop | skip
    deterministic: bool = False  # torch.use_deterministic_algorithms
    progress: bool = True  # progress bar on a terminal
    channels_last: bool = False
    compile: bool = False  # torch.compile the denoiser
    profile: bool = False  # write a torch profiler trace of a few steps
    label_dropout: float = 0.1  # classifier-free guidance: drop labels with this probability
    conditional: bool = False  # condition on class labels when the data has them


@dataclass
class DiffkitConfig:
    seed: int = 0
    run: RunConfig = field(default_factory=RunConfig)
    data: Dict[str, Any] = field(
        default_factory=lambda: {"name": "digits", "root": None, "batch_size": 64, "image_size": 16, "num_workers": 0}
    )
    scheduler: Dict[str, Any] = field(
        default_factory=lambda: {"name": "linear", "num_timesteps": 1000, "beta_start": 1e-4, "beta_end": 0.02}
    )
    time_embedding: Dict[str, Any] = field(default_factory=lambda: {"name": "sinusoidal", "dim": 32})
    denoiser: Dict[str, Any] = field(default_factory=lambda: {"name": "unet", "channels": [32, 64, 128]})
    loss: Dict[str, Any] = field(default_factory=lambda: {"name": "l1"})
    sampler: Dict[str, Any] = field(default_factory=lambda: {"name": "ddpm"})
    optim: OptimConfig = field(default_factory=OptimConfig)
    ema: EmaConfig = field(default_factory=EmaConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
