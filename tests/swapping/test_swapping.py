"""The shared swapping ground: device resolution and the Swapper protocol check."""

from __future__ import annotations

import torch

from reliableswap.swapping import Swapper, resolve_device


def test_resolve_device_auto_and_literal() -> None:
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected and resolve_device(None).type == expected
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")


def test_swapper_protocol_is_structural() -> None:
    class Identity:
        size, name = 8, "identity"

        def swap(self, source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
            return target

    assert isinstance(Identity(), Swapper) and not isinstance(object(), Swapper)
