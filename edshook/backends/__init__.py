"""Backends: one adapter per interpretability library, behind the same operations."""

from __future__ import annotations

from typing import Literal

from edshook.backends.base import Backend
from edshook.backends.batching import Batch, PromptEncoder
from edshook.backends.hooks import SteeringHandle
from edshook.backends.nnsight import NnsightBackend
from edshook.backends.transformer_lens import TransformerLensBackend
from edshook.interventions.protocol import ModelSpec
from edshook.models.loader import LoadedModel

__all__ = [
    "Backend",
    "Batch",
    "Library",
    "ModelSpec",
    "NnsightBackend",
    "PromptEncoder",
    "SteeringHandle",
    "TransformerLensBackend",
    "make_backend",
]

Library = Literal["transformer_lens", "nnsight"]


def make_backend(loaded: LoadedModel, library: Library = "transformer_lens", *, chat: bool = True) -> Backend:
    """A backend by library name: ``"transformer_lens"`` or ``"nnsight"``."""
    backends: dict[str, type[Backend]] = {cls.library: cls for cls in (TransformerLensBackend, NnsightBackend)}
    if library not in backends:
        raise ValueError(f"Unknown backend {library!r}; choose one of {sorted(backends)}.")
    return backends[library](loaded, chat=chat)
