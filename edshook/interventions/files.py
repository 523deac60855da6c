"""Policy folders: a ``policy.json`` with a kind and a format, safetensors weights, checksums.

Only JSON and safetensors are ever read: nothing is unpickled.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import fields, is_dataclass
from pathlib import Path
from typing import Any

from safetensors.torch import load_file
from torch import Tensor

from edshook.errors import PolicyError

__all__ = [
    "MALFORMED",
    "POLICY_FORMAT",
    "POLICY_JSON",
    "POLICY_KINDS",
    "checked_tensors",
    "json_fields",
    "read_policy_file",
    "sha256",
    "write_policy_file",
]

POLICY_FORMAT = 2
POLICY_JSON = "policy.json"
POLICY_KINDS = ("energy_steering", "conditional_steering")
MALFORMED = (AttributeError, KeyError, TypeError, ValueError, RuntimeError)
"""What a malformed ``policy.json`` raises while it is read; loaders turn these into one PolicyError."""


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


def checked_tensors(path: Path, expected_sha256: object) -> dict[str, Tensor]:
    if not path.is_file():
        raise PolicyError(f"{path} is missing: a policy folder holds {POLICY_JSON} and its safetensors weights.")
    if sha256(path) != expected_sha256:
        raise PolicyError(f"{path} does not match the checksum in {POLICY_JSON}: the policy is corrupted.")
    return load_file(str(path))


def json_fields(value: Any, expected: Any) -> dict[str, Any]:
    """``value`` as keyword arguments: a JSON object with exactly the expected keys (a tuple of
    names, a dataclass, or None for any keys)."""
    if not isinstance(value, dict):
        raise TypeError(f"expected a JSON object, got {value!r}")
    names = tuple(f.name for f in fields(expected)) if is_dataclass(expected) else expected
    if names is not None and set(value) != set(names):
        raise KeyError(f"expected the keys {sorted(names)}, got {sorted(value)}")
    return value


def write_policy_file(folder: Path, record: dict[str, Any]) -> None:
    (folder / POLICY_JSON).write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
