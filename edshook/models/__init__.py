"""Loading models: embedded GGUF packages, GGUF files, local folders and hub ids, on any device."""

from edshook.models.embedded import DEFAULT_MODEL, EMBEDDED_MODELS, EmbeddedModel
from edshook.models.loader import LoadedModel, cache_dir, load_model
from edshook.models.placement import DtypeChoice, default_device, native_bfloat16, resolve_device, resolve_dtype

__all__ = [
    "DEFAULT_MODEL",
    "EMBEDDED_MODELS",
    "DtypeChoice",
    "EmbeddedModel",
    "LoadedModel",
    "cache_dir",
    "default_device",
    "load_model",
    "native_bfloat16",
    "resolve_device",
    "resolve_dtype",
]
