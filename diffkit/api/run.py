"""A run directory as a Python object: ``diffkit.open_run(path)``.

    run = diffkit.open_run("runs/20261203-default")
    images = run.sample(16, sampler="heun", steps=18)   # (16, C, H, W) in [-1, 1]
    scores = run.evaluate(["fid"], num=500)               # merged into RUN/metrics.json

The run's config (``RUN/config.yaml`` with the `overrides` given here) chooses the
plugins and builds every component; the checkpoint gives the weights. Overrides that
change what the checkpoint means (schedule, T, network, image size, data) are refused
unless ``allow_changes``; scores of a model so changed are returned, never stored."""

from __future__ import annotations

import math
import sys
from collections.abc import Iterator, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf

from diffkit.api.config import Config, compose_from
from diffkit.config import compose, hparams, read_yaml, to_dict, validate
from diffkit.errors import ConfigError
from diffkit.interfaces import RunContext, Sampler
from diffkit.plugin_manager import Plugins
from diffkit.runner import lock, provenance, rundir
from diffkit.runner.build import Components, node
from diffkit.runner.device import resolve_device
from diffkit.runner.evaluate import Evaluator, check_repeats, numeric
from diffkit.runner.posthoc import Weights, lengths_of, merge_lengths, score_lengths
from diffkit.runner.restore import Restored, restore
from diffkit.runner.resume import changes, meaningful, same_meaning
from diffkit.runner.sample import generate_batches
from diffkit.runner.scores import merge_scores, repeated
from diffkit.runner.visuals import sample_shape

#: the metrics ``evaluate`` computes when neither its argument nor ``eval.metrics`` names any.
DEFAULT_METRICS = ("fid", "precision_recall")
#: bounds of ``sample``'s arguments, before any memory estimate.
MAX_NUM = 10_000_000
MAX_SEED = 2**63 - 2**20  # torch seeds are 64-bit; batch i uses seed + i


class Run:
    """A trained (or training) run: its directory, config, status, metrics and model.

    dir: the run directory; overrides: ``key=value`` changes for sampling and evaluation
    (e.g. ``sampler.eta=0.5``); plugins: extra plugin modules; checkpoint: a checkpoint
    file (default: the latest); use_ema: sample with the EMA weights where kept;
    device: ``auto``, ``cpu``, ``cuda``, ``cuda:1``; allow_changes: accept overrides that
    change what the checkpoint means."""

    def __init__(
        self,
        dir: str | Path,
        overrides: Sequence[str] = (),
        *,
        plugins: Sequence[Any] = (),
        checkpoint: str | Path | None = None,
        use_ema: bool = True,
        device: str = "auto",
        allow_changes: bool = False,
    ) -> None:
        self.dir = Path(dir)
        if not self.dir.is_dir():
            raise ConfigError(f"run directory not found: {self.dir}")
        self.overrides = list(overrides)
        self._plugin_specs = list(plugins)
        self._checkpoint = Path(checkpoint) if checkpoint is not None else None
        self._use_ema = use_ema
        self._device_name = device
        self.allow_changes = allow_changes
        self.changed: dict[str, tuple[Any, Any]] = {}

    def __repr__(self) -> str:
        return f"Run({str(self.dir)!r}, status={self.status!r})"

    # -- what is on disk ---------------------------------------------------
    @property
    def status(self) -> str:
        """created, running, completed, failed or interrupted (``RUN/status.json``)."""
        return str(rundir.read_json(self.dir / rundir.STATUS).get("status", "unknown"))

    @property
    def metrics(self) -> dict[str, Any]:
        """The run's stored scores and final loss (``RUN/metrics.json``)."""
        return rundir.read_json(self.dir / rundir.METRICS)

    @cached_property
    def _config(self) -> Config:
        saved = self.dir / rundir.CONFIG
        if not saved.is_file():
            raise ConfigError(f"{saved} is missing: {self.dir} is not a diffkit run directory")
        base = read_yaml(saved)
        config = compose_from(None, self.overrides, self._plugin_specs, base=base, stem=self.dir.name)
        validate(config.composed)  # type: ignore[arg-type]
        self._saved = to_dict(compose(None, (), config.plugins.registry, base=base).cfg)
        new, registry = config.to_dict(), config.plugins.registry
        self.changed = {
            k: v for k, v in changes(self._saved, new).items() if not same_meaning(k, self._saved, new, registry)
        }
        refused = [k for k in self.changed if meaningful(k)]
        if refused and not self.allow_changes:
            key, (before, after) = refused[0], self.changed[refused[0]]
            raise ConfigError(
                f"{self.dir}: {key}={after!r} changes what its checkpoint means (it was trained with "
                f"{key}={before!r}); add --allow-changes (allow_changes=True) to sample or score the changed model "
                "anyway (its scores are not stored)"
            )
        return config

    @property
    def config(self) -> DictConfig:
        """The run's resolved config with this object's overrides."""
        return self._config.cfg

    @cached_property
    def device(self) -> torch.device:
        return resolve_device(self._device_name, "--device")

    @cached_property
    def restored(self) -> Restored:
        """The checkpoint and the components built from the run's config."""
        found = restore(
            self.dir,
            self.config,
            self._config.plugins.registry,
            self._checkpoint,
            no_ema=not self._use_ema,
            saved=self._saved,
        )
        found.parts.denoiser.to(self.device)
        found.parts.scheduler.to(self.device)
        return found

    @property
    def components(self) -> Components:
        """denoiser (with the checkpoint's weights), process (``.scheduler``), sampler, ..."""
        return self.restored.parts

    @property
    def step(self) -> int:
        """The optimizer step of the checkpoint the model was loaded from."""
        return self.restored.step

    @property
    def changes_meaning(self) -> bool:
        """This object's overrides change what the checkpoint means (allowed by `allow_changes`)."""
        _ = self._config
        return any(meaningful(k) for k in self.changed)

    # -- sampling ----------------------------------------------------------
    def sample(
        self,
        num: int,
        *,
        sampler: str | None = None,
        steps: int | None = None,
        seed: int = 0,
        guidance: float | None = None,
        class_label: int | None = None,
        batch_size: int = 64,
        progress: bool = True,
        ema: float | None = None,
    ) -> torch.Tensor:
        """Draw `num` images, (num, C, H, W) in [-1, 1] on the CPU (points: (num, D)). `sampler`: a sampler
        name instead of the run's; `steps`: sampling steps (default: the sampler's);
        `guidance`: classifier-free guidance scale (needs `class_label`); `ema`: the
        post-hoc EMA length (sigma_rel) to sample with, rebuilt from the run's snapshots."""
        return torch.cat(
            list(
                self.sample_batches(
                    num,
                    sampler=sampler,
                    steps=steps,
                    seed=seed,
                    guidance=guidance,
                    class_label=class_label,
                    batch_size=batch_size,
                    progress=progress,
                    ema=ema,
                )
            )
        )

    def sample_batches(
        self,
        num: int,
        *,
        sampler: str | None = None,
        steps: int | None = None,
        seed: int = 0,
        guidance: float | None = None,
        class_label: int | None = None,
        batch_size: int = 64,
        progress: bool = True,
        ema: float | None = None,
    ) -> Iterator[torch.Tensor]:
        """`sample` batch by batch (at most `batch_size` images in memory); batch i uses seed + i."""
        check_sampling(num, steps, seed, guidance, batch_size)
        lengths = lengths_of(ema)
        length = lengths[0] if lengths else None
        parts = self.components
        return generate_batches(
            self._weights.use(length),
            parts.scheduler,
            self._sampler(sampler),
            num,
            self.sample_shape,
            device=self.device,
            seed=seed,
            batch_size=batch_size,
            steps=steps,
            class_label=class_label,
            guidance_scale=1.0 if guidance is None else guidance,
            progress="sample" if progress else None,
        )

    @cached_property
    def _weights(self) -> Weights:
        """The denoiser's own weights or a post-hoc EMA length's (``runner/posthoc.py``)."""
        return Weights(self.components.denoiser, self.dir, self.step)

    @property
    def sample_shape(self) -> tuple[int, ...]:
        """One sample's shape: (C, H, W) for images, (D,) for points."""
        return sample_shape(self.restored.state, int(self.config.data.image_size))

    @property
    def plugins(self) -> Plugins:
        """The plugins the run's config loaded (their registry builds its components)."""
        return self._config.plugins

    def _sampler(self, name: str | None) -> Sampler:
        if name is None or name == self.config.sampler.name:
            return self.components.sampler
        cfg = compose_from(
            None, [f"sampler.name={name}"], self._plugin_specs, base=to_dict(self.config), quiet=True
        ).cfg
        return self._config.plugins.registry.build("sampler", node(cfg, "sampler"))

    # -- evaluation --------------------------------------------------------
    def evaluate(
        self,
        metrics: Sequence[str | dict[str, Any]] | None = None,
        *,
        num: int | None = None,
        repeats: int = 1,
        steps: int | None = None,
        seed: int | None = None,
        store: bool = True,
        ema: float | Sequence[float] | None = None,
    ) -> dict[str, Any]:
        """Score `repeats` sample sets of `num` images (default ``eval.num_samples``) with
        `metrics` (default ``eval.metrics``, else FID and precision/recall) against the
        test split; the sets share no noise batch (``provenance.set_seeds``). With several sets each metric is their mean and
        ``<metric>_std`` their standard deviation. With `store` the scores are merged into
        ``RUN/metrics.json`` (never a NaN over a number; never for a changed model) and
        handed to ``diffkit_eval``. Holds the run's lock. `ema`: post-hoc EMA lengths to
        score instead of the run's own weights, each stored as ``eval/<metric>@ema<length>``."""
        check_evaluation(num, steps, repeats, seed)
        lengths = lengths_of(ema)
        with lock.scope():
            lock.acquire(self.dir, "diffkit eval")
            stored = self.metrics  # a bad file fails now, not after the sampling
            cfg = self.config
            entries = list(metrics or OmegaConf.to_container(cfg.eval.metrics) or DEFAULT_METRICS)
            evaluator = Evaluator(self._config.plugins.registry, cfg, self.device, entries)
            if num is not None:
                evaluator.check_num(num, "--num")
            parts, first = self.components, int(cfg.seed) if seed is None else seed
            seeds = provenance.set_seeds(first, repeats, num or int(cfg.eval.num_samples), int(cfg.eval.batch_size))
            sets: list[dict[str, Any]] = []

            def score(denoiser: torch.nn.Module) -> dict[str, Any]:
                sets[:] = [
                    evaluator(denoiser, parts.scheduler, parts.sampler, num=num, steps=steps, seed=s) for s in seeds
                ]
                return {**repeated(sets), "eval/checkpoint_step": self.step}

            if lengths:  # each length's scores under keys suffixed @ema<length>
                scores = score_lengths(self._weights, lengths, score)
            else:
                scores = score(self._weights.use(None))
            if store and self.changes_meaning:
                print(
                    f"diffkit: note: scores of a changed model ({', '.join(k for k in self.changed if meaningful(k))})"
                    f" are not stored in {self.dir / rundir.METRICS}",
                    file=sys.stderr,
                )
            elif store:
                merged = (
                    merge_lengths(stored, scores, lengths, merge_scores) if lengths else merge_scores(stored, scores)
                )
                rundir.write_json(self.dir / rundir.METRICS, merged)
                if not lengths:
                    ema_used = bool(
                        self.restored.state.get("ema") and cfg.ema.get("use_for_sampling", True) and self._use_ema
                    )
                    provenance.write_end(
                        self.dir,
                        evaluation=provenance.evaluation(evaluator.provenance, ema=ema_used, sets=sets, seeds=seeds),
                    )
                config = to_dict(cfg)
                context = RunContext(dir=self.dir, config=config, step=self.step, hparams=hparams(config))
                self._config.plugins.hooks(cfg.run.on_hook_error).diffkit_eval(
                    run=context, step=self.step, metrics=numeric(scores)
                )
            return scores


def check_sampling(num: int, steps: int | None, seed: int, guidance: float | None, batch_size: int) -> None:
    """Usage errors of the sampling arguments, before anything is loaded."""
    for name, value in (("--num", num), ("--batch-size", batch_size), ("--steps", steps)):
        if value is not None and value < 1:
            raise ConfigError(f"{name} {value} must be >= 1")
    if num > MAX_NUM:
        raise ConfigError(f"--num {num} is more than {MAX_NUM} images; draw them in several calls with other --seed")
    check_seed(seed)
    if guidance is not None and not math.isfinite(guidance):
        raise ConfigError(f"--guidance {guidance} must be a finite number")


def check_evaluation(num: int | None, steps: int | None, repeats: int, seed: int | None) -> None:
    check_repeats(repeats, 0)
    for name, value in (("--num", num), ("--steps", steps)):
        if value is not None and value < 1:
            raise ConfigError(f"{name} {value} must be >= 1")
    check_seed(seed)


def check_seed(seed: int | None) -> None:
    if seed is not None and not 0 <= seed <= MAX_SEED:
        raise ConfigError(f"--seed {seed} must be an integer in [0, 2**63 - 2**20]")


def open_run(path: str | Path, overrides: Sequence[str] = (), **options: Any) -> Run:
    """The run at `path` (see `Run` for `overrides` and the options)."""
    return Run(path, overrides, **options)
