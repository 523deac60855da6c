"""Labelled activations: what the EBMs train on, cached as safetensors with a JSON sidecar."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch
from jaxtyping import Bool, Float
from safetensors.torch import load_file, save_file
from torch import Tensor

from edshook.errors import DataError, PolicyMismatchError
from edshook.interventions.protocol import ModelSpec
from edshook.judges import Label

__all__ = ["ActivationSet"]

_TENSORS = "activations.safetensors"
_SIDECAR = "activations.json"


@dataclass(frozen=True)
class ActivationSet:
    """Residual-stream states of labelled prompts, one row per prompt.

    Attributes:
        states: ``[prompt, layer, d_model]``, float32, at ``position`` of each formatted prompt.
        layers: The layer of each column of ``states``.
        ids: Prompt ids (stable across runs, so splits stay disjoint).
        labels: The outcome of each prompt's greedy answer.
        model: The model the states were read from.
        position: Prompt position counted from the end (-1: the last chat-template token).
    """

    states: Float[Tensor, "prompt layer d_model"]
    layers: tuple[int, ...]
    ids: tuple[str, ...]
    labels: tuple[Label, ...]
    model: ModelSpec
    position: int = -1

    def __post_init__(self) -> None:
        n = self.states.shape[0]
        if not (len(self.ids) == len(self.labels) == n) or self.states.shape[1] != len(self.layers):
            raise DataError(
                f"ActivationSet shapes disagree: states {tuple(self.states.shape)}, {len(self.layers)} layers, "
                f"{len(self.ids)} ids, {len(self.labels)} labels."
            )

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def desirable(self) -> Bool[Tensor, " prompt"]:
        """True where the model's answer was good (helpful or a safe refusal)."""
        return torch.tensor([label.desirable for label in self.labels], dtype=torch.bool)

    @property
    def harmful(self) -> Bool[Tensor, " prompt"]:
        """True where the prompt itself is harmful (safe reject or jailbreak), whatever the answer."""
        return torch.tensor([label.harmful for label in self.labels], dtype=torch.bool)

    def subset(self, rows: Bool[Tensor, " prompt"]) -> ActivationSet:
        """The prompts where ``rows`` is True, e.g. ``acts.subset(~acts.harmful)``."""
        keep = rows.tolist()
        return replace(
            self,
            states=self.states[rows],
            ids=tuple(i for i, k in zip(self.ids, keep, strict=True) if k),
            labels=tuple(label for label, k in zip(self.labels, keep, strict=True) if k),
        )

    def layer(self, layer: int) -> Float[Tensor, "prompt d_model"]:
        if layer not in self.layers:
            raise DataError(f"Layer {layer} was not collected; this cache holds layers {list(self.layers)}.")
        return self.states[:, self.layers.index(layer)]

    def check_model(self, spec: ModelSpec) -> None:
        """Refuse activations read from another model."""
        if self.model != spec:
            raise PolicyMismatchError(
                f"These activations come from {self.model}, not {spec}. Fix: run `edshook collect` with this model."
            )

    def save(self, folder: str | Path) -> Path:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        save_file({"states": self.states.contiguous()}, str(folder / _TENSORS))
        sidecar = {
            "model": asdict(self.model),
            "layers": list(self.layers),
            "position": self.position,
            "ids": list(self.ids),
            "labels": [str(label) for label in self.labels],
        }
        (folder / _SIDECAR).write_text(json.dumps(sidecar, indent=1) + "\n")
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> ActivationSet:
        folder = Path(folder)
        if not (folder / _SIDECAR).is_file() or not (folder / _TENSORS).is_file():
            raise DataError(
                f"No activation cache in {folder}: expected {_SIDECAR} and {_TENSORS} (run `edshook collect`)."
            )
        sidecar = json.loads((folder / _SIDECAR).read_text())
        return cls(
            states=load_file(str(folder / _TENSORS))["states"],
            layers=tuple(sidecar["layers"]),
            ids=tuple(sidecar["ids"]),
            labels=tuple(Label(label) for label in sidecar["labels"]),
            model=ModelSpec(**sidecar["model"]),
            position=sidecar["position"],
        )
