"""EnergySteering: one EBM per selected layer, descended under a schedule and a constraint."""

from __future__ import annotations

import json
import warnings
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
from jaxtyping import Bool, Float
from safetensors.torch import load_file, save_file
from torch import Tensor, nn

from edshook.errors import PolicyError, PolicyMismatchError
from edshook.interventions.constraints import NormConstraint
from edshook.interventions.energy import EnergyModel, energy_and_grad
from edshook.interventions.files import POLICY_FORMAT, POLICY_JSON, json_fields, read_record, sha256
from edshook.interventions.protocol import EnergyRecord, ModelSpec, Site, SiteCall
from edshook.interventions.schedule import StepSchedule
from edshook.interventions.selectors import PositionSelector

__all__ = ["EnergySteering", "Descent"]

_WEIGHTS = "energies.safetensors"


class Descent:
    """The outcome of descending a set of states: where they ended and what their energy did."""

    def __init__(self, states: Tensor, before: Tensor, after: Tensor, n_steps: Tensor, nonfinite: Tensor) -> None:
        self.states, self.before, self.after, self.n_steps, self.nonfinite = states, before, after, n_steps, nonfinite


class EnergySteering(nn.Module):
    """Moves hidden states down the gradient of a per-layer energy: the EDS policy.

    At each steered layer and selected position, K times:
    ``h <- h - eta_k * direction(grad E(h))``, then the total move is capped by the constraint.
    The energy runs in float32 and eval mode whatever the model's dtype.

    Args:
        energies: One energy module per layer (``[n, d_model] -> [n]``), usually :class:`EnergyModel`.
        schedule: Steps, step size, decay, and energy gating.
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
        self.schedule = schedule
        self.constraint = constraint
        self.positions = positions
        self.model = model
        self.metadata = dict(metadata or {})
        for layer, energy in self.energies.items():
            width = getattr(energy, "d_model", None)
            if model is not None and width is not None and width != model.d_model:
                raise PolicyMismatchError(f"The energy at layer {layer} reads d_model={width}, the model has {model.d_model}.")

    @property
    def layers(self) -> tuple[int, ...]:
        return tuple(int(layer) for layer in self.energies)

    @property
    def sites(self) -> tuple[Site, ...]:
        return tuple(Site(layer) for layer in self.layers)

    def energy(self, layer: int) -> nn.Module:
        return self.energies[str(layer)]

    def threshold(self, layer: int) -> float:
        """The calibrated energy threshold of a layer (0 for energies without one)."""
        value = getattr(self.energy(layer), "threshold", None)
        return 0.0 if value is None else float(value)

    def replace(self, **changes: Any) -> EnergySteering:
        """The same energies with other settings, e.g. ``policy.replace(schedule=StepSchedule(steps=3))``."""
        settings = {"schedule": self.schedule, "constraint": self.constraint, "positions": self.positions}
        settings |= {"model": self.model, "metadata": self.metadata} | changes
        return EnergySteering({layer: self.energy(layer) for layer in self.layers}, **settings)

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
            )
            if ours != theirs
        ]
        if mismatches:
            raise PolicyMismatchError(
                "This policy was made for another model (" + "; ".join(mismatches) + "). "
                "Fix: train a policy on this model (edshook collect + edshook train)."
            )

    def descend(self, layer: int, states: Float[Tensor, "n d_model"], *, measure_after: bool = False) -> Descent:
        """Run the schedule on ``states`` (float32) at ``layer``; NaN or infinite rows stay where they started."""
        energy = self.energy(layer)
        start = states.float()
        current = start
        active = torch.ones(len(start), dtype=torch.bool, device=start.device)
        nonfinite = torch.zeros_like(active)
        n_steps = torch.zeros(len(start), dtype=torch.long, device=start.device)
        before = None
        threshold = self.threshold(layer)
        for size in self.schedule.sizes():
            values, grad = energy_and_grad(energy, current)
            if before is None:
                before = values
            bad = ~(torch.isfinite(values) & torch.isfinite(grad).all(-1))
            nonfinite |= bad
            active &= ~bad
            if self.schedule.gated:
                active &= values > threshold
            if not bool(active.any()):
                break
            moved = self.constraint.clamp(current - size * self.constraint.direction(grad), start)
            current = torch.where(active[:, None], moved, current)
            n_steps += active.long()
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
        """Steer the selected positions, of every row or only of ``rows``."""
        mask = self.positions.mask(call)
        if rows is not None:
            mask = mask & rows.to(mask.device)[:, None]
        if not bool(mask.any()) or self.schedule.steps == 0:
            return hidden
        rows, cols = mask.nonzero(as_tuple=True)
        result = self.descend(call.site.layer, hidden[rows, cols], measure_after=call.trace is not None)
        if bool(result.nonfinite.any()):
            warnings.warn(
                f"edshook: {int(result.nonfinite.sum())} state(s) at layer {call.site.layer} had NaN or infinite "
                "energy or gradient and were left unsteered.",
                RuntimeWarning,
                stacklevel=2,
            )
        edited = hidden.clone()
        edited[rows, cols] = result.states.to(hidden.dtype)
        if call.trace is not None:
            for i, (row, col) in enumerate(zip(rows.tolist(), cols.tolist())):
                call.trace.records.append(
                    EnergyRecord(
                        layer=call.site.layer,
                        phase=call.phase,
                        step=call.step,
                        row=row,
                        position=col,
                        energy_before=float(result.before[i]),
                        energy_after=float(result.after[i]),
                        n_steps=int(result.n_steps[i]),
                        nonfinite=bool(result.nonfinite[i]),
                    )
                )
        return edited

    def extra_repr(self) -> str:
        return f"layers={self.layers}, schedule={self.schedule}, positions={self.positions}"

    # ----------------------------------------------------------------- files
    def save(self, folder: str | Path) -> Path:
        """Write ``policy.json`` and ``energies.safetensors`` into ``folder``."""
        folder = Path(folder)
        tensors: dict[str, Tensor] = {}
        configs = {}
        for layer in self.layers:
            energy = self.energy(layer)
            if not isinstance(energy, EnergyModel):
                raise PolicyError(f"Only EnergyModel energies can be saved; layer {layer} holds {type(energy).__name__}.")
            configs[str(layer)] = energy.config()
            for name, value in energy.state_dict().items():
                tensors[f"{layer}.{name}"] = value.detach().cpu().contiguous()
        if self.constraint.project_out is not None:
            tensors["constraint.project_out"] = self.constraint.project_out.cpu().contiguous()
        folder.mkdir(parents=True, exist_ok=True)
        weights = folder / _WEIGHTS
        save_file(tensors, str(weights))
        record = {
            "format": POLICY_FORMAT,
            "kind": "energy_steering",
            "model": asdict(self.model) if self.model is not None else None,
            "layers": list(self.layers),
            "energies": configs,
            "schedule": asdict(self.schedule),
            "constraint": self.constraint.to_json(),
            "positions": asdict(self.positions),
            "weights_sha256": sha256(weights),
            "metadata": self.metadata,
        }
        (folder / POLICY_JSON).write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
        return folder

    @classmethod
    def load(cls, folder: str | Path, model: ModelSpec | None = None) -> EnergySteering:
        """Read a policy folder; with ``model``, refuse one made for another model.

        Only JSON and safetensors are read: nothing is unpickled.
        """
        folder = Path(folder)
        record = read_record(folder, "energy_steering")
        weights = folder / _WEIGHTS
        if not weights.is_file():
            raise PolicyError(f"{weights} is missing: a policy folder holds {POLICY_JSON} and {_WEIGHTS}.")
        if sha256(weights) != record.get("weights_sha256"):
            raise PolicyError(f"{weights} does not match the checksum in {POLICY_JSON}: the policy is corrupted.")
        try:
            tensors = load_file(str(weights))
            layers = record["layers"]
            if not isinstance(layers, list) or sorted(record["energies"]) != sorted(str(layer) for layer in layers):
                raise ValueError("'layers' must list exactly the layers of 'energies'")
            energies = {}
            for layer in layers:
                energy = EnergyModel(**json_fields(record["energies"][str(layer)], ("d_model", "hidden", "dropout")))
                prefix = f"{layer}."
                energy.load_state_dict({k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)})
                energies[int(layer)] = energy.eval()
            model_record = record["model"]
            policy = cls(
                energies,
                schedule=StepSchedule(**json_fields(record["schedule"], StepSchedule)),
                constraint=NormConstraint(
                    **json_fields(record["constraint"], ("normalize", "max_move", "max_relative_move")),
                    project_out=tensors.get("constraint.project_out"),
                ),
                positions=PositionSelector(**json_fields(record["positions"], PositionSelector)),
                model=None if model_record is None else ModelSpec(**json_fields(model_record, ModelSpec)),
                metadata=json_fields(record.get("metadata", {}), None),
            )
        except (AttributeError, KeyError, TypeError, ValueError, RuntimeError) as err:
            raise PolicyError(f"{folder / POLICY_JSON} is malformed: {err}") from err
        if model is not None:
            policy.check_model(model)
        return policy
