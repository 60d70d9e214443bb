"""Config composition: defaults, files, overrides, swapping by name, errors naming key and file."""

from __future__ import annotations

from pathlib import Path

import pytest
from omegaconf import OmegaConf

from diffkit.config import compose, validate
from diffkit.errors import ConfigError
from tests.conftest import REPO

CONTRACT_KEYS = [
    "seed",
    "run.dir",
    "data.name",
    "data.root",
    "data.batch_size",
    "data.image_size",
    "scheduler.name",
    "scheduler.num_timesteps",
    "scheduler.beta_start",
    "scheduler.beta_end",
    "time_embedding.name",
    "time_embedding.dim",
    "denoiser.name",
    "loss.name",
    "sampler.name",
    "optim.name",
    "optim.lr",
    "train.steps",
    "train.log_every",
    "train.sample_every",
    "train.checkpoint_every",
]


def test_default_yaml_equals_the_schema_defaults(plugins):
    from_file = OmegaConf.to_container(compose(REPO / "configs/default.yaml", registry=plugins.registry).cfg)
    assert from_file == OmegaConf.to_container(compose(None, registry=plugins.registry).cfg)


@pytest.mark.parametrize("name", ["default.yaml", "fashion_mnist.yaml", "seed_reference.yaml"])
def test_shipped_configs_have_the_contract_keys(plugins, name):
    cfg = compose(REPO / "configs" / name, registry=plugins.registry).cfg
    for key in CONTRACT_KEYS:
        assert OmegaConf.select(cfg, key, default="MISSING") != "MISSING", key


def test_seed_reference_is_the_blog_setup(plugins):
    cfg = compose(REPO / "configs/seed_reference.yaml", registry=plugins.registry).cfg
    assert (cfg.scheduler.num_timesteps, cfg.scheduler.beta_start, cfg.scheduler.beta_end) == (300, 1e-4, 0.02)
    assert (cfg.time_embedding.name, cfg.time_embedding.dim) == ("sinusoidal", 32)
    assert list(cfg.denoiser.channels) == [64, 128, 256, 512, 1024]
    assert (cfg.loss.name, cfg.optim.name, cfg.optim.lr, cfg.data.batch_size) == ("l1", "adam", 1e-3, 128)


def test_overrides_parse_values_and_reach_components(plugins):
    cfg = compose(
        None, ["scheduler.num_timesteps=300", "denoiser.channels=[8,16]", "train.steps=5"], plugins.registry
    ).cfg
    assert cfg.scheduler.num_timesteps == 300 and list(cfg.denoiser.channels) == [8, 16] and cfg.train.steps == 5


def test_unknown_key_names_the_key_the_file_and_the_closest(tmp_path: Path, plugins):
    path = tmp_path / "c.yaml"
    path.write_text("train:\n  stpes: 10\n")
    with pytest.raises(ConfigError) as e:
        compose(path, registry=plugins.registry)
    assert str(path) in str(e.value) and "train.stpes" in str(e.value) and "train.steps" in str(e.value)
    with pytest.raises(ConfigError, match="command line: unknown key 'optim.lrr'"):
        compose(None, ["optim.lrr=1"], plugins.registry)


def test_wrong_type_and_bad_range_name_key_and_value(plugins):
    with pytest.raises(ConfigError, match="train.steps"):
        compose(None, ["train.steps=many"], plugins.registry)
    with pytest.raises(ConfigError, match=r"optim.lr=-1.0 is not allowed; use a finite number > 0 \(command line\)"):
        validate(compose(None, ["optim.lr=-1"], plugins.registry))


def test_malformed_yaml_names_file_and_line(tmp_path: Path):
    path = tmp_path / "bad.yaml"
    path.write_text("train:\n  steps: 10\n  log_every: [1, 2\n")
    with pytest.raises(ConfigError, match=rf"{path}:\d+:\d+: malformed YAML"):
        compose(path)
    with pytest.raises(ConfigError, match="config file not found"):
        compose(tmp_path / "missing.yaml")


def test_swapping_a_component_drops_only_parameters_it_does_not_accept(plugins):
    from diffkit.registry import Registry

    linear = plugins.registry.get("scheduler", "linear").cls

    class Constant(linear):
        """Accepts num_timesteps (and the base's keyword options) but no betas."""

        def __init__(self, num_timesteps: int = 10, **kwargs) -> None:
            super().__init__(num_timesteps=num_timesteps, beta_start=0.01, beta_end=0.01, **kwargs)

    registry = Registry()
    for e in plugins.registry.entries():
        registry.add(e.kind, e.name, e.cls)
    registry.add("scheduler", "constant", Constant)
    composed = compose(None, ["scheduler.name=constant"], registry)
    assert dict(composed.cfg.scheduler) == {"name": "constant", "num_timesteps": 1000}
    assert any("dropped beta_start, beta_end" in n for n in composed.notes)
    assert registry.build("scheduler", composed.cfg.scheduler).num_timesteps == 1000


def test_override_must_be_key_value():
    with pytest.raises(ConfigError, match="not of the form key=value"):
        compose(None, ["train.steps"])
    with pytest.raises(ConfigError, match="not of the form key=value"):
        compose(None, ["=3"])


def test_a_file_naming_another_component_replaces_the_section(tmp_path: Path, plugins):
    path = tmp_path / "c.yaml"
    path.write_text("data: {name: fashion_mnist, root: /somewhere}\nloss: {name: l1}\n")
    composed = compose(path, registry=plugins.registry)
    assert dict(composed.cfg.data) == {
        "name": "fashion_mnist",
        "root": "/somewhere",
        "batch_size": 64,
        "image_size": 16,
        "num_workers": 0,
    }
    assert composed.notes == []
