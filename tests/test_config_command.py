"""``diffkit config`` builds every component before anything runs; ``-p no:NAME``
is explained when it hides a component or matches nothing; ``diffkit plugins``
lists blocked plugins and shows parameters with types, without injected ones."""

from __future__ import annotations

import pytest

from diffkit.cli.main import main


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["loss.name=l3"], "unknown loss 'l3'; did you mean 'l2', 'l1'?"),
        (["loss.wieght=2"], "loss.wieght: loss 'l1' has no parameter 'wieght'; it accepts: snr_gamma, weighting"),
        (["denoiser.channels=abc"], "denoiser.channels='abc' is not allowed; use a list of integers"),
        (["sampler.name=ddim", "sampler.eta=fast"], "sampler.eta"),
        (["eval.metrics=[fdi]"], "unknown metric 'fdi'; did you mean 'fid'?"),
        (["data.name=digitz"], "unknown dataset 'digitz'"),
        (
            ["-p", "no:losses", "loss.name=l1"],
            "loss 'l1' is provided by plugin 'losses' from diffkit 0.1.0, blocked with -p no:losses; drop that option",
        ),
    ],
)
def test_config_exits_2_on_a_mistake_in_any_component(
    overrides: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["config", *overrides]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.startswith("diffkit: error: ") and message in err and len(err.splitlines()) == 1


def test_a_block_matching_no_plugin_is_a_warning_with_the_closest_name(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "-p", "no:tensorbord"]) == 0
    assert (
        "diffkit: warning: -p no:tensorbord matches no plugin; did you mean 'tensorboard'?" in capsys.readouterr().err
    )


def test_plugins_lists_blocked_plugins_and_typed_parameters(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plugins", "-v", "-p", "no:tensorboard"]) == 0
    out = capsys.readouterr().out
    assert "BLOCKED plugin 'tensorboard' from diffkit 0.1.0, not loaded: -p no:tensorboard" in out
    metric = out[out.index("metric          fid") :].splitlines()
    assert metric[1:4] == [
        "        features: str = 'classifier'",
        "        weights: str | None = None",
        "        batch_size: int = 256",
    ]
    embedding = out[out.index("time_embedding  fourier") :].splitlines()[1:4]
    assert embedding == ["        dim: int = 32", "        scale: float = 16.0", "        seed: int = 0"]
    assert "context" not in out and "in_channels" not in out and "image_size:" not in out
