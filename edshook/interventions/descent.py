"""Gradient descent on an energy: the inner loop of EDS, as one function of tensors."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from jaxtyping import Bool, Float, Int
from torch import Tensor, nn

from edshook.interventions.constraints import NormConstraint
from edshook.interventions.energy import energy_and_grad, evaluating
from edshook.interventions.schedule import StepSchedule

__all__ = ["Descent", "descend"]


@dataclass(frozen=True)
class Descent:
    """The outcome of descending a set of states: where they ended and what their energy did."""

    states: Float[Tensor, "n d_model"]
    before: Float[Tensor, " n"]
    after: Float[Tensor, " n"]
    n_steps: Int[Tensor, " n"]
    nonfinite: Bool[Tensor, " n"]


def descend(
    energy: nn.Module,
    states: Float[Tensor, "n d_model"],
    schedule: StepSchedule,
    constraint: NormConstraint,
    *,
    gate: float | None = None,
    active: Bool[Tensor, " n"] | None = None,
    measure_after: bool = False,
    early_exit: bool = True,
) -> Descent:
    """Run ``schedule`` on ``states`` (in float32, the energy in eval mode).

    Rows outside ``active``, and rows whose energy or gradient is NaN or infinite, stay where they
    started. With ``schedule.gated`` a row moves only while its energy is above ``gate``. Every step
    runs on every row with masked updates; ``early_exit`` stops once no row moves, which costs a
    host synchronisation per step (free on a CPU, costly on an accelerator).

    Examples:
        >>> from edshook.interventions import EnergyModel
        >>> out = descend(EnergyModel(8, hidden=(4,)), torch.randn(3, 8), StepSchedule(steps=2), NormConstraint())
        >>> out.n_steps.tolist()
        [2, 2, 2]
    """
    if schedule.gated and gate is None:
        raise ValueError("A gated schedule needs the energy's gate.")
    bound = 0.0 if gate is None else gate
    start = states.float()
    current = start
    selected = torch.ones(len(start), dtype=torch.bool, device=start.device) if active is None else active
    moving = selected.clone()
    nonfinite = torch.zeros_like(selected)
    n_steps = torch.zeros(len(start), dtype=torch.long, device=start.device)
    before: Tensor | None = None
    with evaluating(energy):
        for size in schedule.sizes():
            values, grad = energy_and_grad(energy, current)
            before = values if before is None else before
            bad = ~(torch.isfinite(values) & torch.isfinite(grad).all(-1))
            nonfinite |= bad & selected
            moving &= ~bad
            if schedule.gated:
                moving &= values > bound
            if early_exit and not bool(moving.any()):
                break
            moved = constraint.clamp(current - size * constraint.direction(grad), start)
            current = torch.where(moving[:, None], moved, current)
            n_steps += moving.long()
        current = torch.where(nonfinite[:, None], start, current)
        if before is None or measure_after:
            after, _ = energy_and_grad(energy, current)
            before = after if before is None else before
        else:
            after = torch.full_like(before, float("nan"))
    return Descent(current, before, after, n_steps, nonfinite)
