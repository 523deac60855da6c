"""Policy folders: a ``policy.json`` with a kind and a format, safetensors weights, checksums.

Only JSON and safetensors are ever read: nothing is unpickled.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, fields, is_dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import Tensor

from edshook.errors import PolicyError
from edshook.interventions.conditional import ConditionalSteering
from edshook.interventions.constraints import NormConstraint
from edshook.interventions.energy import EnergyModel
from edshook.interventions.probe import LinearProbe
from edshook.interventions.protocol import ModelSpec
from edshook.interventions.schedule import StepSchedule
from edshook.interventions.selectors import PositionSelector
from edshook.interventions.steering import EnergySteering

__all__ = ["POLICY_FORMAT", "POLICY_JSON", "POLICY_KINDS", "load_policy", "read_policy_file"]

POLICY_FORMAT = 2
POLICY_JSON = "policy.json"
POLICY_KINDS = ("energy_steering", "conditional_steering")
_ENERGIES = "energies.safetensors"
_PROBE = "probe.safetensors"
_PARTS = ("benign", "harmful")
_MALFORMED = (AttributeError, KeyError, TypeError, ValueError, RuntimeError)


def load_policy(folder: str | Path, model: ModelSpec | None = None) -> EnergySteering | ConditionalSteering:
    """Read any policy folder written by edshook, or a policy shipped with edshook by name (``"default"``).

    With ``model``, a policy made for another model is refused.

    Examples:
        >>> policy = load_policy("default")  # doctest: +SKIP
    """
    from edshook.policies import shipped_policy_folder

    path = shipped_policy_folder(str(folder)) or Path(folder)
    kind = read_policy_file(path)["kind"]
    return load_conditional(path, model) if kind == "conditional_steering" else load_energy_steering(path, model)


def read_policy_file(folder: Path, kind: str | None = None) -> dict[str, Any]:
    """The parsed ``policy.json`` of ``folder``, checked for format and (if given) kind."""
    path = Path(folder) / POLICY_JSON
    if not path.is_file():
        raise PolicyError(
            f"No policy at {folder}: {POLICY_JSON} is missing. Fix: point to a folder written by `edshook train`."
        )
    try:
        record: dict[str, Any] = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise PolicyError(f"{path} is not valid JSON: {err}") from err
    found = record.get("kind") if isinstance(record, dict) else None
    if found not in POLICY_KINDS or (kind is not None and found != kind):
        wanted = kind or " or ".join(POLICY_KINDS)
        raise PolicyError(f"{path} is not an edshook {wanted.replace('_', '-')} policy (its kind is {found!r}).")
    if record.get("format") != POLICY_FORMAT:
        raise PolicyError(
            f"{path} has format {record.get('format')!r}; this edshook reads format {POLICY_FORMAT}. "
            "Fix: retrain the policy with this version (edshook train)."
        )
    return record


def save_energy_steering(
    policy: EnergySteering, folder: str | Path, *, weights_dtype: torch.dtype = torch.float32
) -> Path:
    """Write ``policy.json`` and ``energies.safetensors``; weights may be stored in float16 to halve the size."""
    folder = Path(folder)
    tensors: dict[str, Tensor] = {}
    configs = {}
    for layer in policy.layers:
        energy = policy.energy(layer)
        if not isinstance(energy, EnergyModel):
            raise PolicyError(f"Only EnergyModel energies can be saved; layer {layer} holds {type(energy).__name__}.")
        configs[str(layer)] = energy.config()
        for name, value in energy.state_dict().items():
            tensors[f"{layer}.{name}"] = value.detach().to("cpu", weights_dtype).contiguous()
    if policy.constraint.project_out is not None:
        tensors["constraint.project_out"] = policy.constraint.project_out.cpu().contiguous()
    folder.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(folder / _ENERGIES))
    record = {
        "format": POLICY_FORMAT,
        "kind": "energy_steering",
        "model": asdict(policy.model) if policy.model is not None else None,
        "layers": list(policy.layers),
        "energies": configs,
        "gates": {str(layer): value for layer, value in sorted(policy.gates.items())},
        "schedule": asdict(policy.schedule),
        "constraint": policy.constraint.to_json(),
        "positions": asdict(policy.positions),
        "weights_sha256": _sha256(folder / _ENERGIES),
        "metadata": policy.metadata,
    }
    _write_json(folder, record)
    return folder


def load_energy_steering(folder: str | Path, model: ModelSpec | None = None) -> EnergySteering:
    """Read a folder written by :func:`save_energy_steering`; with ``model``, refuse another model's policy."""
    folder = Path(folder)
    record = read_policy_file(folder, "energy_steering")
    tensors = _checked_tensors(folder / _ENERGIES, record.get("weights_sha256"))
    try:
        layers = record["layers"]
        if not isinstance(layers, list) or sorted(record["energies"]) != sorted(str(layer) for layer in layers):
            raise ValueError("'layers' must list exactly the layers of 'energies'")
        energies = {}
        for layer in layers:
            energy = EnergyModel(**_fields(record["energies"][str(layer)], ("d_model", "hidden", "dropout")))
            prefix = f"{layer}."
            energy.load_state_dict({k[len(prefix) :]: v.float() for k, v in tensors.items() if k.startswith(prefix)})
            energies[int(layer)] = energy.eval()
        model_record = record["model"]
        policy = EnergySteering(
            energies,
            gates={int(layer): float(value) for layer, value in _fields(record["gates"], None).items()},
            schedule=StepSchedule(**_fields(record["schedule"], StepSchedule)),
            constraint=NormConstraint(
                **_fields(record["constraint"], ("normalize", "max_move", "max_relative_move")),
                project_out=tensors.get("constraint.project_out"),
            ),
            positions=PositionSelector(**_fields(record["positions"], PositionSelector)),
            model=None if model_record is None else ModelSpec(**_fields(model_record, ModelSpec)),
            metadata=_fields(record.get("metadata", {}), None),
        )
    except _MALFORMED as err:
        raise PolicyError(f"{folder / POLICY_JSON} is malformed: {err}") from err
    if model is not None:
        policy.check_model(model)
    return policy


def save_conditional(
    policy: ConditionalSteering, folder: str | Path, *, weights_dtype: torch.dtype = torch.float32
) -> Path:
    """Write ``policy.json``, ``probe.safetensors`` and one sub-folder per part."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    save_file({k: v.detach().cpu().contiguous() for k, v in policy.probe.state_dict().items()}, str(folder / _PROBE))
    parts = {name: part for name, part in (("benign", policy.benign), ("harmful", policy.harmful)) if part is not None}
    for name, part in parts.items():
        save_energy_steering(part, folder / name, weights_dtype=weights_dtype)
    record = {
        "format": POLICY_FORMAT,
        "kind": "conditional_steering",
        "model": asdict(policy.model) if policy.model is not None else None,
        "probe": policy.probe.config(),
        "probe_sha256": _sha256(folder / _PROBE),
        "benign_below": policy.benign_below,
        "harmful_above": policy.harmful_above,
        "parts": list(parts),
        "metadata": policy.metadata,
    }
    _write_json(folder, record)
    return folder


def load_conditional(folder: str | Path, model: ModelSpec | None = None) -> ConditionalSteering:
    """Read a folder written by :func:`save_conditional`; with ``model``, refuse another model's policy."""
    folder = Path(folder)
    record = read_policy_file(folder, "conditional_steering")
    tensors = _checked_tensors(folder / _PROBE, record.get("probe_sha256"))
    try:
        parts = record["parts"]
        if not isinstance(parts, list) or "benign" not in parts or not set(parts) <= set(_PARTS):
            raise ValueError(f"'parts' must list 'benign' and optionally 'harmful', got {parts!r}")
        probe = LinearProbe(**_fields(record["probe"], ("layers", "d_model")))
        probe.load_state_dict(tensors)
        return ConditionalSteering(
            probe,
            load_energy_steering(folder / "benign", model),
            load_energy_steering(folder / "harmful", model) if "harmful" in parts else None,
            benign_below=record["benign_below"],
            harmful_above=record["harmful_above"],
            metadata=_fields(record.get("metadata", {}), None),
        )
    except _MALFORMED as err:
        raise PolicyError(f"{folder / POLICY_JSON} is malformed: {err}") from err


def _checked_tensors(path: Path, expected_sha256: object) -> dict[str, Tensor]:
    if not path.is_file():
        raise PolicyError(f"{path} is missing: a policy folder holds {POLICY_JSON} and its safetensors weights.")
    if _sha256(path) != expected_sha256:
        raise PolicyError(f"{path} does not match the checksum in {POLICY_JSON}: the policy is corrupted.")
    return load_file(str(path))


def _fields(value: Any, expected: Any) -> dict[str, Any]:
    """``value`` as keyword arguments: a JSON object with exactly the expected keys (a tuple of
    names, a dataclass, or None for any keys)."""
    if not isinstance(value, dict):
        raise TypeError(f"expected a JSON object, got {value!r}")
    names = tuple(f.name for f in fields(expected)) if is_dataclass(expected) else expected
    if names is not None and set(value) != set(names):
        raise KeyError(f"expected the keys {sorted(names)}, got {sorted(value)}")
    return value


def _write_json(folder: Path, record: dict[str, Any]) -> None:
    (folder / POLICY_JSON).write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
