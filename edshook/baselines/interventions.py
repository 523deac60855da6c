"""Baseline interventions on the same protocol as EDS: directional ablation and activation addition."""

from __future__ import annotations

import math
from collections.abc import Iterable

from jaxtyping import Float
from torch import Tensor

from edshook.interventions.protocol import Site, SiteCall

__all__ = ["ActivationAddition", "DirectionalAblation"]


class DirectionalAblation:
    """Removes the component along a direction from the residual stream at every real token.

    Ablating at the input of every block (Arditi et al. 2024 ablate every write to the stream)
    keeps each block from reading the direction.

    Examples:
        >>> import torch
        >>> ablate = DirectionalAblation(torch.ones(4), layers=range(2))
        >>> [site.layer for site in ablate.sites]
        [0, 1]
    """

    def __init__(self, direction: Float[Tensor, " d_model"], layers: Iterable[int]) -> None:
        norm = float(direction.norm())
        if not math.isfinite(norm) or norm == 0.0:
            raise ValueError(f"DirectionalAblation needs a finite, non-zero direction; its norm is {norm}.")
        self.direction = (direction / norm).float()
        self._sites = tuple(Site(layer) for layer in sorted(set(layers)))

    @property
    def sites(self) -> tuple[Site, ...]:
        return self._sites

    def __call__(
        self, hidden: Float[Tensor, "batch pos d_model"], call: SiteCall
    ) -> Float[Tensor, "batch pos d_model"]:
        unit = self.direction.to(hidden.device)
        projection = (hidden.float() @ unit)[..., None] * unit
        return (hidden.float() - projection * call.real[..., None]).to(hidden.dtype)

    def __repr__(self) -> str:
        return f"DirectionalAblation(layers={[s.layer for s in self._sites]})"


class ActivationAddition:
    """Adds ``coefficient * direction`` to the residual stream at one layer, at every real token.

    With the refusal direction and a negative coefficient, this is the ActAdd baseline.
    """

    def __init__(self, direction: Float[Tensor, " d_model"], layer: int, coefficient: float) -> None:
        self.direction = direction.float()
        self.coefficient = float(coefficient)
        self._sites = (Site(layer),)

    @property
    def sites(self) -> tuple[Site, ...]:
        return self._sites

    def __call__(
        self, hidden: Float[Tensor, "batch pos d_model"], call: SiteCall
    ) -> Float[Tensor, "batch pos d_model"]:
        shift = self.coefficient * self.direction.to(hidden.device) * call.real[..., None]
        return (hidden.float() + shift).to(hidden.dtype)

    def __repr__(self) -> str:
        return f"ActivationAddition(layer={self._sites[0].layer}, coefficient={self.coefficient})"
