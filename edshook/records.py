"""Run records: what a command was given, so that a rerun from the record gives the same numbers."""

from __future__ import annotations

import json
import platform
import sys
from collections.abc import Mapping, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

__all__ = ["RECORD", "package_versions", "write_record"]

RECORD = "run_record.json"
_PACKAGES = ("edshook", "torch", "transformers", "transformer-lens", "nnsight", "safetensors", "numpy")


def package_versions() -> dict[str, str | None]:
    """Installed versions of the packages that decide the numbers (None where one is missing)."""
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def write_record(
    folder: Path,
    command: str,
    settings: Mapping[str, Any],
    *,
    data_ids: Sequence[str] | None = None,
    resolved: Mapping[str, Any] | None = None,
) -> Path:
    """Write ``run_record.json``: the command line, every setting (seeds included), what ``auto``
    choices resolved to (device, dtype), versions, data ids."""
    folder.mkdir(parents=True, exist_ok=True)
    record = {
        "command": command,
        "argv": sys.argv,
        "settings": {key: str(value) if isinstance(value, Path) else value for key, value in settings.items()},
        "resolved": dict(resolved or {}),
        "versions": package_versions(),
        "data_ids": None if data_ids is None else list(data_ids),
    }
    path = folder / RECORD
    path.write_text(json.dumps(record, indent=1) + "\n")
    return path
