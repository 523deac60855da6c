"""Small interventions used by the tests."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from edshook.interventions import Site, SiteCall


class QuadraticEnergy(nn.Module):
    """E(h) = ||h - c||^2, whose gradient 2 (h - c) is known in closed form."""

    def __init__(self, center: Tensor) -> None:
        super().__init__()
        self.d_model = center.shape[-1]
        self.register_buffer("center", center.float())

    def forward(self, hidden: Tensor) -> Tensor:
        return ((hidden - self.center) ** 2).sum(-1)


class FullRecorder:
    """Keeps the whole prefill hidden state at its sites (all positions)."""

    def __init__(self, layers) -> None:
        self._sites = tuple(Site(layer) for layer in layers)
        self.states: dict[int, Tensor] = {}

    @property
    def sites(self):
        return self._sites

    def __call__(self, hidden: Tensor, call: SiteCall) -> Tensor:
        if call.phase == "prefill":
            self.states[call.site.layer] = hidden.detach().clone()
        return hidden


class Explode:
    """An intervention that raises, to test clean-up."""

    def __init__(self, layer: int) -> None:
        self.sites = (Site(layer),)

    def __call__(self, hidden: Tensor, call: SiteCall) -> Tensor:
        raise RuntimeError("boom")


def hook_count(backend) -> int:
    """Hooks edshook could have left behind: on the bridge's hook points, or torch hooks on the model."""
    if backend.library == "transformer_lens":
        return sum(len(point._forward_hooks) + len(point.fwd_hooks) for point in backend.bridge.hook_dict.values())
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in backend.loaded.model.modules())


__all__ = ["Explode", "FullRecorder", "QuadraticEnergy", "hook_count", "torch"]
