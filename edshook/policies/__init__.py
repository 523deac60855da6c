"""Policies trained by the project and shipped with the package, loadable by name.

Examples:
    >>> from edshook.policies import SHIPPED_POLICIES
    >>> "default" in SHIPPED_POLICIES
    True
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

__all__ = ["SHIPPED_POLICIES", "shipped_policy_folder"]

SHIPPED_POLICIES: dict[str, str] = {"default": "qwen2.5-coder-0.5b-instruct"}
"""Name -> folder inside this package; ``"default"`` is the default policy for the default model."""


def shipped_policy_folder(name: str) -> Path | None:
    """The folder of a shipped policy, or None if ``name`` is not one."""
    folder = SHIPPED_POLICIES.get(name)
    return None if folder is None else Path(str(files(__name__) / folder))
