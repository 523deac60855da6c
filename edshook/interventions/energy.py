"""The energy-based model: a small MLP that scores a hidden state, low for desirable states."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import torch
from jaxtyping import Float
from torch import Tensor, nn

__all__ = ["REFERENCE_HIDDEN", "EnergyModel", "energy_and_grad", "evaluating"]

REFERENCE_HIDDEN = (2048, 1024, 1024, 512)
"""The hidden sizes of the published EDS energy model."""


class EnergyModel(nn.Module):
    """MLP ``d_model -> hidden... -> 1`` with LayerNorm, SiLU and dropout between layers.

    The input is layer-normalised first (without learned scale), so the energy reads the
    direction of the residual stream rather than its norm, which varies a lot across layers.
    Inputs are moved to the model's own device and float32.

    Args:
        d_model: Width of the hidden states it reads.
        hidden: Widths of the hidden layers; :data:`REFERENCE_HIDDEN` is the published size.
        dropout: Dropout probability during training (steering always runs in eval mode).

    Examples:
        >>> ebm = EnergyModel(896, hidden=(64,))
        >>> ebm(torch.zeros(3, 896)).shape
        torch.Size([3])
    """

    def __init__(self, d_model: int, hidden: Sequence[int] = (512, 256), dropout: float = 0.15) -> None:
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

    def forward(self, hidden: Float[Tensor, "batch d_model"]) -> Float[Tensor, " batch"]:
        energies: Tensor = self.net(hidden.to(self.output.weight.device, torch.float32)).squeeze(-1)
        return energies

    @property
    def output(self) -> nn.Linear:
        """The last layer, which gives the energy."""
        last = self.net[-1]
        assert isinstance(last, nn.Linear)
        return last

    def config(self) -> dict[str, object]:
        """The constructor arguments, for saving next to the weights."""
        return {"d_model": self.d_model, "hidden": list(self.hidden), "dropout": self.dropout}

    def __repr__(self) -> str:
        """One line: the layers of the MLP are implied by ``hidden``."""
        return f"EnergyModel(d_model={self.d_model}, hidden={self.hidden})"


@contextmanager
def evaluating(module: nn.Module) -> Iterator[nn.Module]:
    """``module`` in eval mode for the block (dropout would make steering random), then its mode restored."""
    was_training = module.training
    if was_training:
        module.eval()
    try:
        yield module
    finally:
        if was_training:
            module.train()


def energy_and_grad(
    energy: nn.Module, hidden: Float[Tensor, "batch d_model"]
) -> tuple[Float[Tensor, " batch"], Float[Tensor, "batch d_model"]]:
    """Energy of each row and its gradient with respect to the row, in float32 and eval mode."""
    with evaluating(energy), torch.enable_grad():
        x = hidden.detach().float().requires_grad_(True)
        values = energy(x)
        (grad,) = torch.autograd.grad(values.sum(), x)
    return values.detach(), grad
