"""EnergySteering: one EBM per selected layer, descended under a schedule and a constraint."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
from jaxtyping import Bool, Float
from safetensors.torch import save_file
from torch import Tensor, nn

from edshook.errors import PolicyError, PolicyMismatchError
from edshook.interventions.constraints import NormConstraint
from edshook.interventions.descent import Descent, descend
from edshook.interventions.energy import EnergyModel
from edshook.interventions.files import (
    MALFORMED,
    POLICY_FORMAT,
    POLICY_JSON,
    checked_tensors,
    json_fields,
    read_policy_file,
    sha256,
    write_policy_file,
)
from edshook.interventions.protocol import EnergyRecord, ModelSpec, Site, SiteCall
from edshook.interventions.schedule import StepSchedule
from edshook.interventions.selectors import PositionSelector

__all__ = ["ENERGIES", "EnergySteering"]

ENERGIES = "energies.safetensors"


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
        mismatches = self.model.differences(spec)
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
        """Run this policy's schedule on ``states`` with ``layer``'s energy and gate (see :func:`descend`)."""
        return descend(
            self.energy(layer),
            states,
            self.schedule,
            self.constraint,
            gate=self.gates.get(layer),
            active=active,
            measure_after=measure_after,
            early_exit=early_exit,
        )

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

    def describe(self) -> str:
        """One line a reader can check: layers, steps, gating, positions.

        Examples:
            >>> EnergySteering({12: EnergyModel(896, hidden=(8,))}, schedule=StepSchedule(steps=3)).describe()
            'layers [12]: 3 steps of 2, ungated; last prompt token and every generated token'
        """
        s = self.schedule
        decay = "" if s.decay == 1.0 else f" decaying by {s.decay:g}"
        steps = f"{s.steps} steps of {s.step_size:g}{decay}, {'gated' if s.gated else 'ungated'}"
        return f"layers {list(self.layers)}: {steps}; {self.positions.describe()}"

    def save(self, folder: str | Path, *, weights_dtype: torch.dtype = torch.float32) -> Path:
        """Write ``policy.json`` and ``energies.safetensors`` into ``folder``; float16 weights halve the size."""
        folder = Path(folder)
        tensors: dict[str, Tensor] = {}
        configs = {}
        for layer in self.layers:
            energy = self.energy(layer)
            if not isinstance(energy, EnergyModel):
                raise PolicyError(
                    f"Only EnergyModel energies can be saved; layer {layer} holds {type(energy).__name__}."
                )
            configs[str(layer)] = energy.config()
            for name, value in energy.state_dict().items():
                tensors[f"{layer}.{name}"] = value.detach().to("cpu", weights_dtype).contiguous()
        if self.constraint.project_out is not None:
            tensors["constraint.project_out"] = self.constraint.project_out.cpu().contiguous()
        folder.mkdir(parents=True, exist_ok=True)
        save_file(tensors, str(folder / ENERGIES))
        record = {
            "format": POLICY_FORMAT,
            "kind": "energy_steering",
            "model": asdict(self.model) if self.model is not None else None,
            "layers": list(self.layers),
            "energies": configs,
            "gates": {str(layer): value for layer, value in sorted(self.gates.items())},
            "schedule": asdict(self.schedule),
            "constraint": self.constraint.to_json(),
            "positions": asdict(self.positions),
            "weights_sha256": sha256(folder / ENERGIES),
            "metadata": self.metadata,
        }
        write_policy_file(folder, record)
        return folder

    @classmethod
    def load(cls, folder: str | Path, model: ModelSpec | None = None) -> EnergySteering:
        """Read a folder written by :meth:`save` (nothing is unpickled); with ``model``, refuse another model's."""
        folder = Path(folder)
        record = read_policy_file(folder, "energy_steering")
        tensors = checked_tensors(folder / ENERGIES, record.get("weights_sha256"))
        try:
            layers = record["layers"]
            if not isinstance(layers, list) or sorted(record["energies"]) != sorted(str(layer) for layer in layers):
                raise ValueError("'layers' must list exactly the layers of 'energies'")
            energies = {}
            for layer in layers:
                energy = EnergyModel(**json_fields(record["energies"][str(layer)], ("d_model", "hidden", "dropout")))
                prefix = f"{layer}."
                energy.load_state_dict(
                    {k[len(prefix) :]: v.float() for k, v in tensors.items() if k.startswith(prefix)}
                )
                energies[int(layer)] = energy.eval()
            model_record = record["model"]
            policy = cls(
                energies,
                gates={int(layer): float(value) for layer, value in json_fields(record["gates"], None).items()},
                schedule=StepSchedule(**json_fields(record["schedule"], StepSchedule)),
                constraint=NormConstraint(
                    **json_fields(record["constraint"], ("normalize", "max_move", "max_relative_move")),
                    project_out=tensors.get("constraint.project_out"),
                ),
                positions=PositionSelector(**json_fields(record["positions"], PositionSelector)),
                model=None if model_record is None else ModelSpec(**json_fields(model_record, ModelSpec)),
                metadata=json_fields(record.get("metadata", {}), None),
            )
        except MALFORMED as err:
            raise PolicyError(f"{folder / POLICY_JSON} is malformed: {err}") from err
        if model is not None:
            policy.check_model(model)
        return policy
