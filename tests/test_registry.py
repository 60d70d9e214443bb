"""Registry: validation at registration, building from config nodes, helpful errors."""

from __future__ import annotations

import pytest
import torch

from diffkit import Loss, Registry, Scheduler
from diffkit.errors import ConfigError, PluginValidationError, UnknownComponentError
from diffkit.interfaces import KINDS
from diffkit.registry import Origin


class Good(Loss):
    def __init__(self, scale: float = 1.0) -> None:
        super().__init__()
        self.scale = scale

    def forward(self, output, target, t, scheduler):
        return self.scale * (output - target).abs().mean()


def test_every_kind_of_the_seed_has_a_builtin(plugins):
    for kind, name in [
        ("scheduler", "linear"),
        ("time_embedding", "sinusoidal"),
        ("denoiser", "unet"),
        ("loss", "l1"),
        ("sampler", "ddpm"),
        ("dataset", "digits"),
    ]:
        assert name in plugins.registry.names(kind)
        assert plugins.registry.get(kind, name).origin.dist == "diffkit"


def test_build_passes_params_and_records_the_resolved_config():
    r = Registry()
    r.add("loss", "good", Good)
    obj = r.build("loss", {"name": "good", "scale": 2.0})
    assert obj.scale == 2.0
    assert obj.build_config == {"name": "good", "scale": 2.0}
    assert r.build("loss", {"name": "good"}).build_config == {"name": "good", "scale": 1.0}


def test_unknown_parameter_names_it_and_the_accepted_ones():
    r = Registry()
    r.add("loss", "good", Good)
    with pytest.raises(ConfigError) as e:
        r.build("loss", {"name": "good", "scael": 2.0})
    assert "loss.scael" in str(e.value) and "accepts: scale" in str(e.value)


def test_unknown_name_lists_closest_and_all_available(plugins):
    with pytest.raises(UnknownComponentError) as e:
        plugins.registry.build("scheduler", {"name": "linaer"})
    msg = str(e.value)
    assert "unknown scheduler 'linaer'" in msg
    assert "did you mean 'linear'" in msg
    assert "available: " in msg and "linear" in msg.split("available: ")[1]
    assert "diffkit plugins --kind scheduler" in msg


def test_registration_is_validated_up_front():
    r = Registry()
    with r.registering_as(Origin("bad-plugin", "bad-dist", "1.0")):
        with pytest.raises(PluginValidationError, match="bad-plugin.*not a subclass of diffkit.Scheduler"):
            r.add("scheduler", "x", Good)
        with pytest.raises(PluginValidationError, match="unknown kind"):
            r.add("optimizer", "x", Good)

        class Abstract(Scheduler):
            def __init__(self, needed: int) -> None:
                super().__init__(torch.ones(3) * 0.1)

        with pytest.raises(PluginValidationError, match="'needed' needs a default"):
            r.add("scheduler", "abstract", Abstract)


def test_duplicate_names_are_conflicts_naming_both_origins():
    r = Registry()
    with r.registering_as(Origin("first", "dist-a", "1")):
        r.add("loss", "same", Good)
    with r.registering_as(Origin("second", "dist-b", "2")):
        r.add("loss", "same", Good)
    with pytest.raises(ConfigError) as e:
        r.get("loss", "same")
    assert "dist-a" in str(e.value) and "dist-b" in str(e.value)
    r.remove_origin("second")
    assert r.get("loss", "same").origin.plugin == "first"


def test_kinds_are_the_documented_interfaces():
    assert set(KINDS) == {
        "scheduler",
        "time_embedding",
        "denoiser",
        "loss",
        "sampler",
        "dataset",
        "metric",
        "launcher",
        "ema",
    }
