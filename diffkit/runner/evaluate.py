"""Sample-quality evaluation: draw images from a model and score them against the
dataset's test split with the metrics named in ``eval.metrics``."""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf
from torch import nn

from diffkit.config.schema import DATA_RUNNER_KEYS
from diffkit.errors import ConfigError
from diffkit.interfaces import Metric, MetricContext, Sampler, Scheduler
from diffkit.registry import Registry
from diffkit.runner.build import build_dataset, node
from diffkit.runner.data import fit_data, to_model_range, values
from diffkit.runner.sample import as_saved, generate, model_fn

#: at most this many sample sets per ``diffkit eval --repeats`` (each is a full evaluation).
MAX_REPEATS = 1000


def check_repeats(repeats: int, seed: int) -> None:
    """Refuse a ``--repeats`` outside [1, MAX_REPEATS], or whose last seed passes 2**32 - 1."""
    if not 1 <= repeats <= MAX_REPEATS:
        raise ConfigError(f"--repeats {repeats} is not allowed; use an integer in [1, {MAX_REPEATS}]")
    if seed + repeats - 1 >= 2**32:
        raise ConfigError(f"--repeats {repeats} with seed {seed} needs seeds past 2**32 - 1; lower either")


def metric_nodes(entries: Any) -> list[dict[str, Any]]:
    """``eval.metrics`` entries (a name or ``{name, **params}``) -> config nodes."""
    nodes = []
    for i, entry in enumerate(entries or []):
        if isinstance(entry, str):
            nodes.append({"name": entry})
        elif isinstance(entry, dict) and isinstance(entry.get("name"), str):
            nodes.append(dict(entry))
        else:
            raise ConfigError(f"eval.metrics[{i}]={entry!r} must be a metric name or {{name: ..., param: ...}}")
    return nodes


def dataset_key(cfg: DictConfig) -> str:
    """A name for per-dataset caches: ``<dataset>-<image size>``, plus a hash of the
    dataset's other parameters (such as root) when it has any."""
    params = {k: v for k, v in node(cfg, "data").items() if k not in DATA_RUNNER_KEYS and k != "name" and v is not None}
    key = f"{cfg.data.name}-{cfg.data.image_size}"
    if params:
        key += "-" + hashlib.sha1(json.dumps(params, sort_keys=True, default=str).encode()).hexdigest()[:8]
    return key


def numeric(values: dict[str, Any]) -> dict[str, float]:
    """The entries of `values` that are numbers (bool excluded), as floats."""
    return {k: float(v) for k, v in values.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}


def reference_hash(images: torch.Tensor) -> str:
    """sha256 (16 hex digits) of the reference images (uint8, N, C, H, W) and their shape."""
    h = hashlib.sha256(repr(tuple(images.shape)).encode())
    h.update(images.contiguous().cpu().numpy().tobytes())
    return h.hexdigest()[:16]


class Evaluator:
    """Built before training so that bad metric names fail early; called after it.

    Metrics whose constructor takes ``context`` get a `MetricContext` for the
    run's dataset at its image size.
    """

    def __init__(self, registry: Registry, cfg: DictConfig, device: torch.device, entries: Any = None) -> None:
        self.cfg, self.device = cfg, device
        self.dataset = build_dataset(registry, cfg)
        size = int(cfg.data.image_size)
        self.context = MetricContext(
            dataset_key(cfg), lambda: fit_data(self.dataset.load("train"), size), device, source=self.dataset
        )
        entries = OmegaConf.to_container(cfg.eval.metrics) if entries is None else entries
        self.metrics: list[Metric] = [
            registry.build("metric", n, where=f"eval.metrics[{i}]", context=self.context)
            for i, n in enumerate(metric_nodes(entries))
        ]
        for metric in self.metrics:
            metric.prepare()
        #: what the last call measured, for ``RUN/provenance.json`` (``runner/provenance.py``).
        self.provenance: dict[str, Any] = {}
        #: "eval/<name>" -> {higher_is_better, description} of the metric that computed it,
        #: filled by each call (the runner shares it with trackers as ``run.info["metric_info"]``).
        self.declared: dict[str, dict[str, Any]] = {}

    def check_num(self, num: int, option: str = "eval.num_samples") -> None:
        """Raise ConfigError when `num` images are too few for a metric."""
        for metric in self.metrics:
            if num < metric.min_samples():
                name = getattr(metric, "build_config", {}).get("name", type(metric).__name__)
                said = f"{option} {num}" if option.startswith("-") else f"{option}={num}"
                raise ConfigError(
                    f"{said} is too few images for metric {name}: it needs at least {metric.min_samples()}"
                )

    def __call__(
        self,
        denoiser: nn.Module,
        scheduler: Scheduler,
        sampler: Sampler,
        *,
        num: int | None = None,
        steps: int | None = None,
        seed: int | None = None,
    ) -> dict[str, Any]:
        """Scores as ``{"eval/<name>": value}`` plus the sampler, its step count and
        the number of images (``eval/sampler``, ``eval/sampling_steps``, ``eval/num_samples``).

        Generated and real images both go through `as_saved` (clamp to [-1, 1],
        quantise to uint8), so the scores are those of the images ``diffkit sample
        --out x.npz`` writes. Points are scored as they are, and metrics get the model
        (``MetricContext.model``) in eval mode."""
        cfg = self.cfg
        num = int(num or cfg.eval.num_samples)
        self.check_num(num)
        steps = steps if steps is not None else cfg.eval.steps
        test = fit_data(self.dataset.load("test"), int(cfg.data.image_size))
        points = test.kind == "points"
        reference = values(test)
        real = reference if points else as_saved(to_model_range(reference))
        seed = int(cfg.seed if seed is None else seed)
        fake, calls = self._draw(denoiser, scheduler, sampler, num, tuple(real.shape[1:]), steps, seed)
        fake = fake if points else as_saved(fake)
        measured = {
            "sampler": str(cfg.sampler.name),
            "sampling_steps": sampler.num_steps(scheduler, steps),
            "nfe": calls / math.ceil(num / int(cfg.eval.batch_size)),
            "num_samples": num,
            "reference": reference_hash(reference),
            "seed": seed,
        }
        scores = self._score(denoiser, scheduler, real, fake, measured)
        scores.update(
            {
                "eval/sampler": str(cfg.sampler.name),
                "eval/sampling_steps": sampler.steps_run(scheduler, steps),  # what ran, not what was asked
                "eval/num_samples": num,
            }
        )
        return scores

    def _draw(
        self,
        denoiser: nn.Module,
        scheduler: Scheduler,
        sampler: Sampler,
        num: int,
        shape: tuple[int, ...],
        steps: int | None,
        seed: int,
    ) -> tuple[torch.Tensor, int]:
        """`num` generated samples and the number of denoiser calls that made them."""
        calls = [0]
        counting = denoiser.register_forward_hook(lambda *_: calls.__setitem__(0, calls[0] + 1))
        try:
            fake = generate(
                denoiser,
                scheduler,
                sampler,
                num,
                shape,
                device=self.device,
                seed=seed,
                batch_size=self.cfg.eval.batch_size,
                steps=steps,
                progress="eval",
            )
        finally:
            counting.remove()
        return fake, calls[0]

    def _score(
        self,
        denoiser: nn.Module,
        scheduler: Scheduler,
        real: torch.Tensor,
        fake: torch.Tensor,
        measured: dict[str, Any],
    ) -> dict[str, Any]:
        """Each metric's values on (`real`, `fake`), the model in eval mode in the metrics'
        context; records their provenance (with `measured`) and their declared direction."""
        self.context.shared.clear()
        self.context.model, self.context.process = model_fn(denoiser, scheduler), scheduler
        scores: dict[str, Any] = {}
        self.provenance = {"metrics": {}}
        was_training = denoiser.training
        denoiser.eval()
        try:
            for metric in self.metrics:
                computed = {f"eval/{k}": float(v) for k, v in metric.compute(real, fake).items()}
                scores.update(computed)
                self.provenance["metrics"].update({k: {**metric.provenance(), **measured} for k in computed})
                about = {"higher_is_better": bool(metric.higher_is_better), "description": str(metric.description)}
                self.declared.update(dict.fromkeys(computed, about))
        finally:
            denoiser.train(was_training)
            self.context.model = self.context.process = None
        return scores
