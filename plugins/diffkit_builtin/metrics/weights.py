"""Loading a feature network's weights from a local file, with one-line errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from diffkit.errors import CheckpointError


def load_state_dict(path: str, what: str) -> dict[str, Any]:
    """The state dict in the file at `path` (tensors only); one line naming the file otherwise."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - any unreadable file is the user's to fix
        raise CheckpointError(f"{path}: not a loadable {what} state dict: {type(e).__name__}") from None


def build_network(
    make: Callable[[dict[str, Any]], nn.Module],
    state: dict[str, Any],
    weights: str | None,
    what: str,
    device: torch.device,
) -> nn.Module:
    """make(state) on `device`; a state dict of another network is one line naming `weights`."""
    try:
        return make(state).to(device)
    except RuntimeError as e:
        raise CheckpointError(f"{weights}: does not match {what}: {str(e).splitlines()[0]}") from None
