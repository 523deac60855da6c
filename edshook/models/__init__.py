"""Loading models: embedded GGUF packages, GGUF files, local folders and hub ids."""

from edshook.models.embedded import DEFAULT_MODEL, EMBEDDED_MODELS, EmbeddedModel
from edshook.models.loader import LoadedModel, cache_dir, load_model

__all__ = ["DEFAULT_MODEL", "EMBEDDED_MODELS", "EmbeddedModel", "LoadedModel", "cache_dir", "load_model"]
