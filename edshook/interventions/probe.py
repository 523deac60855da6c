"""A linear probe: reads one concept (e.g. "this prompt is harmful") off one layer's residual stream."""

from __future__ import annotations

import torch
from jaxtyping import Float
from torch import Tensor, nn

__all__ = ["LinearProbe"]


class LinearProbe(nn.Module):
    """Logistic read-out ``sigmoid(w . LayerNorm(h) + b)`` at one layer.

    Like :class:`~edshook.interventions.EnergyModel`, it reads the direction of the residual
    stream, not its norm.

    Args:
        layer: The layer whose input (``resid_pre``) it reads.
        d_model: Width of the hidden states.

    Examples:
        >>> probe = LinearProbe(layer=14, d_model=896)
        >>> probe.probability(torch.zeros(2, 896))
        tensor([0.5000, 0.5000])
    """

    def __init__(self, layer: int, d_model: int) -> None:
        super().__init__()
        self.layer = int(layer)
        self.d_model = int(d_model)
        self.norm = nn.LayerNorm(d_model, elementwise_affine=False)
        self.linear = nn.Linear(d_model, 1)
        nn.init.zeros_(self.linear.weight)
        nn.init.zeros_(self.linear.bias)

    def forward(self, hidden: Float[Tensor, "batch d_model"]) -> Float[Tensor, " batch"]:
        """The logit of the concept."""
        return self.linear(self.norm(hidden.float())).squeeze(-1)

    @torch.no_grad()
    def probability(self, hidden: Float[Tensor, "batch d_model"]) -> Float[Tensor, " batch"]:
        return torch.sigmoid(self(hidden))

    @property
    def direction(self) -> Float[Tensor, " d_model"]:
        """The unit vector the probe reads (in layer-normalised coordinates)."""
        weight = self.linear.weight.detach()[0]
        return weight / weight.norm().clamp_min(1e-12)

    def config(self) -> dict:
        return {"layer": self.layer, "d_model": self.d_model}

    def __repr__(self) -> str:
        return f"LinearProbe(layer={self.layer}, d_model={self.d_model})"
