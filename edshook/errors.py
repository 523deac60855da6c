"""The exceptions edshook raises: each names the problem and the fix."""

from __future__ import annotations

__all__ = [
    "ChatTemplateError",
    "DataError",
    "EdshookError",
    "ModelLoadError",
    "PolicyError",
    "PolicyMismatchError",
    "PromptError",
    "SiteError",
    "TrainingError",
    "UnknownModelError",
]


class EdshookError(Exception):
    """Base class of every error edshook raises on purpose."""


class ModelLoadError(EdshookError):
    """A model could not be loaded (missing package, corrupted file, bad path)."""


class UnknownModelError(ModelLoadError, KeyError):
    """A model name is neither embedded, a local path nor reachable on the hub."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class SiteError(EdshookError, IndexError):
    """A site (layer, hook kind) does not exist on the model."""


class PromptError(EdshookError, ValueError):
    """The prompts given cannot be run (empty list, empty text, wrong type)."""


class ChatTemplateError(EdshookError):
    """A chat template was asked of a tokenizer that has none."""


class PolicyError(EdshookError):
    """A policy folder is missing, malformed, or unsafe to load."""


class PolicyMismatchError(PolicyError):
    """A policy was made for another model (d_model, n_layers or model id differ)."""


class DataError(EdshookError):
    """A data set is missing, malformed, empty, or its splits overlap."""


class TrainingError(EdshookError):
    """EBM training cannot run on the data given (one class only, too few rows)."""
