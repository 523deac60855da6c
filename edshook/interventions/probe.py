"""A linear probe: reads one concept (e.g. "this prompt is harmful") off the residual stream."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from jaxtyping import Float
from torch import Tensor, nn

__all__ = ["LinearProbe"]


class LinearProbe(nn.Module):
    """Logistic read-out ``sigmoid(w . [LayerNorm(h_l) for l in layers] + b)``.

    Like :class:`~edshook.interventions.EnergyModel`, it reads the direction of each layer's
    residual stream, not its norm. Several layers are read side by side (concatenated), so a
    decision can draw on more than one depth; it is made at the deepest of them.

    Args:
        layers: The layers whose input (``resid_pre``) it reads; an int for one layer.
        d_model: Width of the hidden states.

    Examples:
        >>> probe = LinearProbe(layers=14, d_model=896)
        >>> probe.probability(torch.zeros(2, 1, 896))
        tensor([0.5000, 0.5000])
    """

    def __init__(self, layers: int | Sequence[int], d_model: int) -> None:
        super().__init__()
        chosen = (layers,) if isinstance(layers, int) else tuple(sorted({int(layer) for layer in layers}))
        if not chosen:
            raise ValueError("LinearProbe needs at least one layer.")
        self.layers: tuple[int, ...] = chosen
        self.d_model = int(d_model)
        self.norm = nn.LayerNorm(d_model, elementwise_affine=False)
        self.linear = nn.Linear(d_model * len(chosen), 1)
        nn.init.zeros_(self.linear.weight)
        nn.init.zeros_(self.linear.bias)

    @property
    def layer(self) -> int:
        """The deepest layer read: where the decision is made."""
        return self.layers[-1]

    def forward(self, hidden: Float[Tensor, "batch layer d_model"]) -> Float[Tensor, " batch"]:
        """The logit of the concept, from ``[batch, len(layers), d_model]`` states (layers ascending)."""
        if hidden.ndim != 3 or hidden.shape[1:] != (len(self.layers), self.d_model):
            raise ValueError(
                f"LinearProbe over layers {self.layers} reads [batch, {len(self.layers)}, {self.d_model}] states, "
                f"got {tuple(hidden.shape)}."
            )
        features = self.norm(hidden.to(self.linear.weight.device, torch.float32)).flatten(1)
        logits: Tensor = self.linear(features).squeeze(-1)
        return logits

    @torch.no_grad()
    def probability(self, hidden: Float[Tensor, "batch layer d_model"]) -> Float[Tensor, " batch"]:
        return torch.sigmoid(self(hidden))

    def config(self) -> dict[str, object]:
        return {"layers": list(self.layers), "d_model": self.d_model}

    def __repr__(self) -> str:
        return f"LinearProbe(layers={self.layers}, d_model={self.d_model})"
