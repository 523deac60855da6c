"""The energy-based model: a small MLP that scores a hidden state, low for desirable states."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from jaxtyping import Float
from torch import Tensor, nn

__all__ = ["EnergyModel", "REFERENCE_HIDDEN", "energy_and_grad"]

REFERENCE_HIDDEN = (2048, 1024, 1024, 512)
"""The hidden sizes of the published EDS energy model."""


class EnergyModel(nn.Module):
    """MLP ``d_model -> hidden... -> 1`` with LayerNorm, SiLU and dropout between layers.

    The input is layer-normalised first (without learned scale), so the energy reads the
    direction of the residual stream rather than its norm, which varies a lot across layers.

    Args:
        d_model: Width of the hidden states it reads.
        hidden: Widths of the hidden layers; :data:`REFERENCE_HIDDEN` is the published size.
        dropout: Dropout probability during training (steering always runs in eval mode).
        threshold: Energy below which a state counts as desirable; set by calibration.

    Examples:
        >>> ebm = EnergyModel(896, hidden=(64,))
        >>> ebm(torch.zeros(3, 896)).shape
        torch.Size([3])
    """

    def __init__(
        self, d_model: int, hidden: Sequence[int] = (512, 256), dropout: float = 0.15, threshold: float = 0.0
    ) -> None:
        super().__init__()
        self.d_model = d_model
        self.hidden = tuple(int(width) for width in hidden)
        self.dropout = float(dropout)
        layers: list[nn.Module] = [nn.LayerNorm(d_model, elementwise_affine=False)]
        width = d_model
        for out in self.hidden:
            layers += [nn.Linear(width, out), nn.LayerNorm(out), nn.SiLU(), nn.Dropout(self.dropout)]
            width = out
        layers.append(nn.Linear(width, 1))
        self.net = nn.Sequential(*layers)
        self.register_buffer("threshold", torch.tensor(float(threshold)))

    def forward(self, hidden: Float[Tensor, "batch d_model"]) -> Float[Tensor, " batch"]:
        return self.net(hidden).squeeze(-1)

    def config(self) -> dict:
        """The constructor arguments, for saving next to the weights."""
        return {"d_model": self.d_model, "hidden": list(self.hidden), "dropout": self.dropout}

    def __repr__(self) -> str:
        """One line: the layers of the MLP are implied by ``hidden``."""
        return f"EnergyModel(d_model={self.d_model}, hidden={self.hidden}, threshold={float(self.threshold):.4g})"


def energy_and_grad(
    energy: nn.Module, hidden: Float[Tensor, "batch d_model"]
) -> tuple[Float[Tensor, " batch"], Float[Tensor, "batch d_model"]]:
    """Energy of each row and its gradient with respect to the row, in float32 and eval mode.

    Dropout would make steering random, so the module is put in eval mode for the call and its
    previous mode is restored afterwards.
    """
    was_training = energy.training
    energy.eval()
    try:
        with torch.enable_grad():
            x = hidden.detach().float().requires_grad_(True)
            values = energy(x)
            (grad,) = torch.autograd.grad(values.sum(), x)
    finally:
        energy.train(was_training)
    return values.detach(), grad
