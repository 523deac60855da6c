"""Backends: one adapter per interpretability library, behind the same operations."""

from edshook.backends.base import Backend, Batch, ModelSpec, SteeringHandle
from edshook.backends.nnsight import NnsightBackend
from edshook.backends.transformer_lens import TransformerLensBackend

__all__ = ["Backend", "Batch", "ModelSpec", "NnsightBackend", "SteeringHandle", "TransformerLensBackend", "make_backend"]


def make_backend(loaded, library: str = "transformer_lens", *, chat: bool = True) -> Backend:
    """A backend by library name: ``"transformer_lens"`` or ``"nnsight"``."""
    backends = {cls.library: cls for cls in (TransformerLensBackend, NnsightBackend)}
    if library not in backends:
        raise ValueError(f"Unknown backend {library!r}; choose one of {sorted(backends)}.")
    return backends[library](loaded, chat=chat)
