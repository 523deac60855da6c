"""What every policy folder shares: a ``policy.json`` with a kind and a format, safetensors weights, checksums."""

from __future__ import annotations

import hashlib
import json
from dataclasses import fields, is_dataclass
from pathlib import Path
from typing import Any

from edshook.errors import PolicyError

__all__ = ["POLICY_FORMAT", "POLICY_JSON", "POLICY_KINDS", "json_fields", "read_record", "sha256"]

POLICY_FORMAT = 1
POLICY_JSON = "policy.json"
POLICY_KINDS = ("energy_steering", "conditional_steering")


def json_fields(value: Any, expected: Any) -> dict:
    """``value`` as keyword arguments: a JSON object with exactly the expected keys.

    ``expected`` is a tuple of names, a dataclass, or None for any keys.
    """
    if not isinstance(value, dict):
        raise TypeError(f"expected a JSON object, got {value!r}")
    names = tuple(f.name for f in fields(expected)) if is_dataclass(expected) else expected
    if names is not None and set(value) != set(names):
        raise KeyError(f"expected the keys {sorted(names)}, got {sorted(value)}")
    return value


def read_record(folder: Path, kind: str | None = None) -> dict:
    """The parsed ``policy.json`` of ``folder``, checked for format and (if given) kind."""
    path = folder / POLICY_JSON
    if not path.is_file():
        raise PolicyError(f"No policy at {folder}: {POLICY_JSON} is missing. Fix: point to a folder written by `edshook train`.")
    try:
        record = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise PolicyError(f"{path} is not valid JSON: {err}") from err
    found = record.get("kind") if isinstance(record, dict) else None
    if found not in POLICY_KINDS or (kind is not None and found != kind):
        wanted = kind or " or ".join(POLICY_KINDS)
        raise PolicyError(f"{path} is not an edshook {wanted.replace('_', '-')} policy (its kind is {found!r}).")
    if record.get("format") != POLICY_FORMAT:
        raise PolicyError(f"{path} has format {record.get('format')!r}; this edshook reads format {POLICY_FORMAT}.")
    return record


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
