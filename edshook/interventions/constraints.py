"""Limits on how a descent step may move the hidden state."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from jaxtyping import Float
from torch import Tensor

__all__ = ["NormConstraint"]


@dataclass(frozen=True)
class NormConstraint:
    """Shapes each step and bounds the total move.

    Args:
        normalize: Divide the gradient by its norm (+1e-8), as the reference method does.
        max_move: Cap on ``||h_final - h_start||``, absolute.
        max_relative_move: Cap on the same, as a fraction of ``||h_start||``.
        project_out: Directions ``[k, d_model]`` the step may not move along (e.g. a harmfulness
            direction to keep unchanged); removed from the gradient before normalising.

    Examples:
        >>> NormConstraint(max_relative_move=0.1)
        NormConstraint(normalize=True, max_move=None, max_relative_move=0.1, project_out=None)
    """

    normalize: bool = True
    max_move: float | None = None
    max_relative_move: float | None = None
    project_out: Float[Tensor, "k d_model"] | None = field(default=None)

    def __post_init__(self) -> None:
        for name in ("max_move", "max_relative_move"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ValueError(f"NormConstraint.{name} must be >= 0, got {value}.")
        if self.project_out is not None:
            directions = torch.as_tensor(self.project_out, dtype=torch.float32)
            directions = directions.reshape(-1, directions.shape[-1])
            gram = directions @ directions.T
            if not torch.allclose(gram, torch.eye(len(directions)), atol=1e-6):
                directions = torch.linalg.qr(directions.T)[0].T  # an orthonormal basis of the same span
            object.__setattr__(self, "project_out", directions.contiguous())

    def direction(self, grad: Float[Tensor, "n d_model"]) -> Float[Tensor, "n d_model"]:
        """The step direction from a gradient: projected, then normalised if asked."""
        if self.project_out is not None:
            basis = self.project_out.to(grad.device)
            grad = grad - (grad @ basis.T) @ basis
        if self.normalize:
            grad = grad / (grad.norm(dim=-1, keepdim=True) + 1e-8)
        return grad

    def clamp(self, moved: Float[Tensor, "n d_model"], start: Float[Tensor, "n d_model"]) -> Float[Tensor, "n d_model"]:
        """Pull ``moved`` back towards ``start`` so the total move respects the caps."""
        limits = []
        if self.max_move is not None:
            limits.append(torch.full_like(start[:, 0], self.max_move))
        if self.max_relative_move is not None:
            limits.append(self.max_relative_move * start.norm(dim=-1))
        if not limits:
            return moved
        limit = torch.stack(limits).amin(0)
        delta = moved - start
        norm = delta.norm(dim=-1)
        scale = torch.where(norm > limit, limit / norm.clamp_min(1e-12), torch.ones_like(norm))
        return start + delta * scale[:, None]

    def to_json(self) -> dict[str, object]:
        return {"normalize": self.normalize, "max_move": self.max_move, "max_relative_move": self.max_relative_move}
