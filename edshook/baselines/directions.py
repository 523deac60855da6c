"""Directions in the residual stream: differences in means, and one direction made orthogonal to another."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from jaxtyping import Float
from torch import Tensor

from edshook.backends.base import Backend

__all__ = ["mean_difference", "orthogonalise"]


def mean_difference(
    backend: Backend,
    positive: Sequence[str],
    negative: Sequence[str],
    *,
    positions: Sequence[int] = (-1,),
    batch_size: int = 16,
) -> Float[Tensor, "position layer d_model"]:
    """Mean residual state of ``positive`` prompts minus that of ``negative`` ones, per position and layer."""

    def mean(prompts: Sequence[str], position: int) -> Tensor:
        states: Tensor = backend.collect(prompts, position=position, batch_size=batch_size, progress=False)
        mean_state: Tensor = states.mean(0)
        return mean_state

    return torch.stack([mean(positive, p) - mean(negative, p) for p in positions])


def orthogonalise(vector: Float[Tensor, " d_model"], against: Float[Tensor, " d_model"]) -> Float[Tensor, " d_model"]:
    """``vector`` minus its component along ``against``."""
    unit = against / against.norm()
    orthogonal: Tensor = vector - (vector @ unit) * unit
    return orthogonal
