"""Where to steer: which layers, and which token positions."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import torch
from jaxtyping import Bool

from edshook.errors import SiteError
from edshook.interventions.protocol import SiteCall

__all__ = ["LayerSelector", "PositionSelector", "check_layers"]


def check_layers(layers: Sequence[int], n_layers: int) -> tuple[int, ...]:
    """Normalise negative indices and reject layers the model does not have."""
    resolved = []
    for layer in layers:
        index = layer + n_layers if layer < 0 else layer
        if not 0 <= index < n_layers:
            raise SiteError(
                f"Layer {layer} is out of range: the model has {n_layers} layers "
                f"(0..{n_layers - 1}, or -1..-{n_layers})."
            )
        resolved.append(index)
    return tuple(sorted(set(resolved)))


@dataclass(frozen=True)
class LayerSelector:
    """Chooses decoder blocks: an explicit list, a relative depth range, or the top k by a score.

    Examples:
        >>> LayerSelector.depth(0.25, 0.5).resolve(24)
        (6, 7, 8, 9, 10, 11)
        >>> LayerSelector.top_k({3: 0.9, 5: 0.7, 8: 0.95}, k=2).resolve(24)
        (3, 8)
    """

    mode: Literal["explicit", "depth", "top_k"]
    layers: tuple[int, ...] = ()
    start: float = 0.0
    stop: float = 1.0
    scores: tuple[tuple[int, float], ...] = ()
    k: int = 0

    @classmethod
    def explicit(cls, layers: Sequence[int]) -> LayerSelector:
        return cls(mode="explicit", layers=tuple(layers))

    @classmethod
    def depth(cls, start: float, stop: float) -> LayerSelector:
        """Layers whose relative depth ``layer / n_layers`` lies in ``[start, stop)``."""
        if not 0.0 <= start < stop <= 1.0:
            raise SiteError(f"Depth range [{start}, {stop}) must satisfy 0 <= start < stop <= 1.")
        return cls(mode="depth", start=start, stop=stop)

    @classmethod
    def top_k(cls, scores: Mapping[int, float], k: int) -> LayerSelector:
        """The k layers with the highest score (e.g. EBM validation accuracy); ties go to the earlier layer."""
        if not 1 <= k <= len(scores):
            raise SiteError(f"top_k needs 1 <= k <= {len(scores)} (the number of scored layers), got k={k}.")
        return cls(mode="top_k", scores=tuple(sorted(scores.items())), k=k)

    def resolve(self, n_layers: int) -> tuple[int, ...]:
        """The selected layers of a model with ``n_layers`` blocks, ascending."""
        if self.mode == "explicit":
            return check_layers(self.layers, n_layers)
        if self.mode == "depth":
            chosen = [layer for layer in range(n_layers) if self.start <= layer / n_layers < self.stop]
            if not chosen:
                raise SiteError(f"Depth range [{self.start}, {self.stop}) holds no layer of a {n_layers}-layer model.")
            return tuple(chosen)
        ranked = sorted(self.scores, key=lambda item: (-item[1], item[0]))[: self.k]
        return check_layers([layer for layer, _ in ranked], n_layers)


@dataclass(frozen=True)
class PositionSelector:
    """Which token positions to steer.

    Args:
        prompt: At the prompt pass: ``"last"`` (the end of the chat template), ``"all"`` real
            prompt tokens, or ``"none"``.
        generated: Whether to steer generated tokens as they are decoded.
        max_generated: Steer only the first ``max_generated`` generated tokens (None: all of them);
            the start of an answer decides its course, and later tokens are then left alone.

    Padding positions are never selected.

    Examples:
        >>> PositionSelector(prompt="last", generated=True)
        PositionSelector(prompt='last', generated=True, max_generated=None)
    """

    prompt: Literal["last", "all", "none"] = "last"
    generated: bool = True
    max_generated: int | None = None

    def __post_init__(self) -> None:
        limit = self.max_generated
        valid_limit = limit is None or (isinstance(limit, int) and not isinstance(limit, bool) and limit >= 0)
        if self.prompt not in ("last", "all", "none") or not isinstance(self.generated, bool) or not valid_limit:
            raise ValueError(
                "PositionSelector needs prompt in 'last', 'all', 'none', generated a bool and max_generated None or an "
                f"integer >= 0, got {self.prompt!r}, {self.generated!r}, {limit!r}."
            )

    def window(self, call: SiteCall) -> int | None:
        """How many trailing positions of this call may be steered (None: none at all).

        Decided from the call's phase and step alone, so it costs no device synchronisation.
        """
        if call.phase == "decode":
            within = self.max_generated is None or call.step <= self.max_generated
            return call.real.shape[1] if self.generated and within else None
        return {"last": 1, "all": call.real.shape[1], "none": None}[self.prompt]

    def describe(self) -> str:
        """The selected positions in words, e.g. ``"last prompt token and the first 16 generated tokens"``."""
        prompt = {"last": "last prompt token", "all": "every prompt token", "none": "no prompt token"}[self.prompt]
        limit = self.max_generated
        if not self.generated or limit == 0:
            return f"{prompt} and no generated token"
        return f"{prompt} and " + ("every generated token" if limit is None else f"the first {limit} generated tokens")

    def mask(self, call: SiteCall) -> Bool[torch.Tensor, "batch pos"]:
        """True where this call's hidden states should be steered."""
        selected = torch.zeros_like(call.real)
        width = self.window(call)
        if width is not None:
            selected[:, -width:] = call.real[:, -width:]
        return selected
