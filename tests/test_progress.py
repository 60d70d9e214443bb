"""Progress bars (tqdm): steps, rate, ETA and the loss on a terminal; silent otherwise."""

from __future__ import annotations

import io

import torch

from diffkit.runner.progress import Progress
from diffkit.runner.sample import generate


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_training_bar_shows_steps_rate_eta_and_loss() -> None:
    out = Terminal()
    progress = Progress(10, start=2, stream=out)
    for step in range(3, 11):
        progress.update(step, f"loss {1 / step:.4f}" if step % 2 == 0 else None)
    progress.close()
    last = out.getvalue().split("\r")[-1]
    assert "train" in last and "10/10" in last and "step/s" in last and "loss 0.1000" in last
    assert "<00:00" in last  # the ETA


def test_silent_when_not_a_terminal_or_turned_off() -> None:
    for stream, enabled in ((io.StringIO(), True), (Terminal(), False)):
        progress = Progress(5, stream=stream, enabled=enabled)
        progress.update(5, "loss 1.0")
        progress.close()
        assert stream.getvalue() == "" and not progress.enabled


def test_sampling_has_a_bar_over_images(capsys, plugins) -> None:
    class Zero(torch.nn.Module):
        def forward(self, x: torch.Tensor, t: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
            return torch.zeros_like(x)

    class Identity:
        def sample(self, model, scheduler, noise, **kwargs):  # noqa: ANN001, ANN003
            return model(noise, torch.zeros(len(noise), dtype=torch.long))

    scheduler = plugins.registry.build("scheduler", {"name": "linear", "num_timesteps": 10})
    images = generate(
        Zero(), scheduler, Identity(), 5, (1, 2, 2), device=torch.device("cpu"), batch_size=2, progress="sample"
    )
    assert images.shape == (5, 1, 2, 2)
    assert capsys.readouterr().err == ""  # stderr is captured, not a terminal: no bar
