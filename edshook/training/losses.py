"""Losses that make desirable states low-energy and undesirable ones high-energy."""

from __future__ import annotations

from typing import Literal

import torch
from jaxtyping import Float
from torch import Tensor
from torch.nn import functional

__all__ = ["LossName", "contrastive_loss", "info_nce", "logistic"]

LossName = Literal["infonce", "logistic"]


def info_nce(good: Float[Tensor, " g"], bad: Float[Tensor, " b"], temperature: float = 0.1) -> Float[Tensor, ""]:
    """For each good state p: cross-entropy of ``[-E(p), -E(n_1), ...] / T`` toward p.

    Shift-invariant: adding a constant to every energy changes nothing, so a threshold must be
    calibrated afterwards.
    """
    logits = torch.cat([good[:, None], bad[None, :].expand(len(good), -1)], dim=1).neg() / temperature
    return functional.cross_entropy(logits, torch.zeros(len(good), dtype=torch.long, device=good.device))


def logistic(good: Float[Tensor, " g"], bad: Float[Tensor, " b"], temperature: float = 1.0) -> Float[Tensor, ""]:
    """Binary cross-entropy with ``sigmoid(E / T)`` as the probability of being undesirable.

    Anchors energy 0 as the boundary, so the sign of the energy is meaningful on its own.
    """
    energies = torch.cat([good, bad]) / temperature
    targets = torch.cat([torch.zeros_like(good), torch.ones_like(bad)])
    return functional.binary_cross_entropy_with_logits(energies, targets)


def contrastive_loss(name: LossName, good: Tensor, bad: Tensor, temperature: float) -> Tensor:
    losses = {"infonce": info_nce, "logistic": logistic}
    if name not in losses:
        raise ValueError(f"Unknown loss {name!r}; choose one of {sorted(losses)}.")
    return losses[name](good, bad, temperature)
