"""EnergySteering: one EBM per selected layer, descended under a schedule and a constraint."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
from jaxtyping import Bool, Float, Int
from torch import Tensor, nn

from edshook.errors import PolicyError, PolicyMismatchError
from edshook.interventions.constraints import NormConstraint
from edshook.interventions.energy import energy_and_grad, evaluating
from edshook.interventions.protocol import EnergyRecord, ModelSpec, Site, SiteCall
from edshook.interventions.schedule import StepSchedule
from edshook.interventions.selectors import PositionSelector

__all__ = ["Descent", "EnergySteering"]


@dataclass(frozen=True)
class Descent:
    """The outcome of descending a set of states: where they ended and what their energy did."""

    states: Float[Tensor, "n d_model"]
    before: Float[Tensor, " n"]
    after: Float[Tensor, " n"]
    n_steps: Int[Tensor, " n"]
    nonfinite: Bool[Tensor, " n"]


class EnergySteering(nn.Module):
    """Moves hidden states down the gradient of a per-layer energy: the EDS policy.

    At each steered layer and selected position, K times:
    ``h <- h - eta_k * direction(grad E(h))``, then the total move is capped by the constraint.
    The energy runs in float32 and eval mode whatever the model's dtype.

    Args:
        energies: One energy module per layer (``[n, d_model] -> [n]``), usually :class:`EnergyModel`.
        gates: Per layer, the calibrated energy above which a state counts as undesirable. A gated
            schedule moves only states above their layer's gate (and stops once below it).
        schedule: Steps, step size, decay, and whether the gates apply.
        constraint: Gradient normalisation, projections and caps on the move.
        positions: Which tokens to steer.
        model: The model the energies were trained on; attaching to another one is an error.
        metadata: Anything worth keeping with the policy (training data ids, metrics).

    Examples:
        >>> policy = EnergySteering({12: EnergyModel(896, hidden=(64,))}, schedule=StepSchedule(steps=3))
        >>> policy.layers
        (12,)
    """

    def __init__(
        self,
        energies: Mapping[int, nn.Module],
        *,
        gates: Mapping[int, float] | None = None,
        schedule: StepSchedule = StepSchedule(),
        constraint: NormConstraint = NormConstraint(),
        positions: PositionSelector = PositionSelector(),
        model: ModelSpec | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__()
        if not energies:
            raise PolicyError("EnergySteering needs at least one layer's energy model.")
        self.energies = nn.ModuleDict({str(layer): energies[layer] for layer in sorted(energies)})
        self.gates = {int(layer): float(value) for layer, value in (gates or {}).items()}
        self.schedule = schedule
        self.constraint = constraint
        self.positions = positions
        self.model = model
        self.metadata = dict(metadata or {})
        ungated = [layer for layer in self.layers if layer not in self.gates]
        if schedule.gated and ungated:
            raise PolicyError(
                f"A gated schedule needs a calibrated energy gate for every layer; layers {ungated} have none. "
                "Fix: pass gates={layer: energy} (train_energies calibrates them), or use an ungated schedule."
            )
        for layer, energy in self.energies.items():
            width = getattr(energy, "d_model", None)
            if model is not None and width is not None and width != model.d_model:
                raise PolicyMismatchError(
                    f"The energy at layer {layer} reads d_model={width}, the model has {model.d_model}."
                )

    @property
    def layers(self) -> tuple[int, ...]:
        return tuple(int(layer) for layer in self.energies)

    @property
    def sites(self) -> tuple[Site, ...]:
        return tuple(Site(layer) for layer in self.layers)

    def energy(self, layer: int) -> nn.Module:
        return self.energies[str(layer)]

    def replace(self, **changes: Any) -> EnergySteering:
        """The same energies with other settings, e.g. ``policy.replace(schedule=StepSchedule(steps=3))``."""
        settings: dict[str, Any] = {"gates": self.gates, "schedule": self.schedule, "constraint": self.constraint}
        settings |= {"positions": self.positions, "model": self.model, "metadata": self.metadata} | changes
        return EnergySteering({layer: self.energy(layer) for layer in self.layers}, **settings)

    def place(self, devices: Mapping[Site, torch.device]) -> None:
        """Move each layer's energy to the device of its site (called by the backend when attaching)."""
        for layer in self.layers:
            self.energy(layer).to(devices[Site(layer)])

    def check_model(self, spec: ModelSpec) -> None:
        """Refuse to steer a model other than the one the energies were trained on."""
        if self.model is None:
            widths = {getattr(e, "d_model", spec.d_model) for e in self.energies.values()}
            if widths != {spec.d_model}:
                raise PolicyMismatchError(f"The policy reads d_model={sorted(widths)}, the model has {spec.d_model}.")
            return
        mismatches = [
            f"{name}: policy {ours!r}, model {theirs!r}"
            for name, ours, theirs in zip(
                ("model id", "n_layers", "d_model"),
                (self.model.model_id, self.model.n_layers, self.model.d_model),
                (spec.model_id, spec.n_layers, spec.d_model),
                strict=True,
            )
            if ours != theirs
        ]
        if mismatches:
            raise PolicyMismatchError(
                "This policy was made for another model (" + "; ".join(mismatches) + "). "
                "Fix: train a policy on this model (edshook collect + edshook train)."
            )

    def descend(
        self,
        layer: int,
        states: Float[Tensor, "n d_model"],
        *,
        active: Bool[Tensor, " n"] | None = None,
        measure_after: bool = False,
        early_exit: bool = True,
    ) -> Descent:
        """Run the schedule on ``states`` (float32) at ``layer``; rows outside ``active`` and NaN or
        infinite rows stay where they started.

        Every step runs on every row, with masked updates; ``early_exit`` stops once no row moves,
        which needs a host synchronisation per step (free on a CPU, costly on an accelerator).
        """
        energy = self.energy(layer)
        start = states.float()
        current = start
        selected = torch.ones(len(start), dtype=torch.bool, device=start.device) if active is None else active
        moving = selected.clone()
        nonfinite = torch.zeros_like(selected)
        n_steps = torch.zeros(len(start), dtype=torch.long, device=start.device)
        before: Tensor | None = None
        with evaluating(energy):
            for size in self.schedule.sizes():
                values, grad = energy_and_grad(energy, current)
                before = values if before is None else before
                bad = ~(torch.isfinite(values) & torch.isfinite(grad).all(-1))
                nonfinite |= bad & selected
                moving &= ~bad
                if self.schedule.gated:
                    moving &= values > self.gates[layer]
                if early_exit and not bool(moving.any()):
                    break
                moved = self.constraint.clamp(current - size * self.constraint.direction(grad), start)
                current = torch.where(moving[:, None], moved, current)
                n_steps += moving.long()
            current = torch.where(nonfinite[:, None], start, current)
            if before is None or measure_after:
                after, _ = energy_and_grad(energy, current)
                before = after if before is None else before
            else:
                after = torch.full_like(before, float("nan"))
        return Descent(current, before, after, n_steps, nonfinite)

    def forward(
        self,
        hidden: Float[Tensor, "batch pos d_model"],
        call: SiteCall,
        rows: Bool[Tensor, " batch"] | None = None,
    ) -> Float[Tensor, "batch pos d_model"]:
        """Steer the selected positions, of every row or only of ``rows``.

        On an accelerator nothing here waits for the device unless a trace is recorded: every
        candidate state is descended with masked updates. On a CPU only the selected states are.
        """
        width = self.positions.window(call)
        if width is None or self.schedule.steps == 0:
            return hidden
        batch, pos, d_model = hidden.shape
        mask = call.real[:, pos - width :]
        if rows is not None:
            mask = mask & rows.to(mask.device)[:, None]
        flat = hidden[:, pos - width :].reshape(-1, d_model)
        on_cpu = hidden.device.type == "cpu"
        index = mask.reshape(-1).nonzero().squeeze(1) if on_cpu else None
        result = self.descend(
            call.site.layer,
            flat if index is None else flat[index],
            active=mask.reshape(-1) if index is None else None,
            measure_after=call.trace is not None,
            early_exit=on_cpu,
        )
        call.count_nonfinite(result.nonfinite)
        steered = result.states.to(hidden.dtype)
        if index is None:
            window = torch.where(mask.reshape(-1, 1), steered, flat)
        else:
            window = flat.index_copy(0, index, steered)
        edited = hidden.clone()
        edited[:, pos - width :] = window.view(batch, width, d_model)
        if call.trace is not None:
            self._record(call, result, mask, pos - width, index)
        return edited

    def _record(self, call: SiteCall, result: Descent, mask: Tensor, first: int, index: Tensor | None) -> None:
        """Append one record per steered state to the trace (this is where host synchronisation is allowed)."""
        width = mask.shape[1]
        flat_index = mask.reshape(-1).nonzero().squeeze(1).tolist() if index is None else index.tolist()
        chosen = range(len(flat_index)) if index is not None else flat_index
        for i, flat in zip(chosen, flat_index, strict=True):
            row, column = divmod(flat, width)
            call.trace.records.append(  # type: ignore[union-attr]
                EnergyRecord(
                    layer=call.site.layer,
                    phase=call.phase,
                    step=call.step,
                    prompt=call.prompt(row),
                    position=first + column,
                    energy_before=float(result.before[i]),
                    energy_after=float(result.after[i]),
                    n_steps=int(result.n_steps[i]),
                    nonfinite=bool(result.nonfinite[i]),
                )
            )

    def extra_repr(self) -> str:
        return f"layers={self.layers}, schedule={self.schedule}, positions={self.positions}"

    def save(self, folder: Any, *, weights_dtype: torch.dtype = torch.float32) -> Any:
        """Write ``policy.json`` and ``energies.safetensors`` into ``folder``; float16 weights halve the size."""
        from edshook.interventions.files import save_energy_steering

        return save_energy_steering(self, folder, weights_dtype=weights_dtype)

    @classmethod
    def load(cls, folder: Any, model: ModelSpec | None = None) -> EnergySteering:
        """Read a policy folder; with ``model``, refuse one made for another model. Nothing is unpickled."""
        from edshook.interventions.files import load_energy_steering

        return load_energy_steering(folder, model)
