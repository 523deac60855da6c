"""Directions in the residual stream: difference in means, and the choice of a refusal direction."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from jaxtyping import Float
from torch import Tensor
from tqdm.auto import tqdm

from edshook.backends.base import Backend
from edshook.baselines.interventions import DirectionalAblation

__all__ = ["RefusalDirection", "kl_divergence", "mean_difference", "orthogonalise", "refusal_score", "select_refusal_direction"]

REFUSAL_OPENINGS = ("I", "As", "Sorry", "Unfortunately", "I'm")
"""Words a refusal starts with; their first tokens make the refusal score."""


def mean_difference(
    backend: Backend, positive: Sequence[str], negative: Sequence[str], *, positions: Sequence[int] = (-1,), batch_size: int = 16
) -> Float[Tensor, "position layer d_model"]:
    """Mean residual state of ``positive`` prompts minus that of ``negative`` ones, per position and layer."""
    def mean(prompts: Sequence[str], position: int) -> Tensor:
        return backend.collect(prompts, position=position, batch_size=batch_size, progress=False).mean(0)

    return torch.stack([mean(positive, p) - mean(negative, p) for p in positions])


def orthogonalise(vector: Float[Tensor, " d_model"], against: Float[Tensor, " d_model"]) -> Float[Tensor, " d_model"]:
    """``vector`` minus its component along ``against``."""
    unit = against / against.norm()
    return vector - (vector @ unit) * unit


def refusal_score(backend: Backend, prompts: Sequence[str], *, system_prompt: str | None = None, batch_size: int = 16) -> Tensor:
    """Log-odds that the first answer token opens a refusal, per prompt: one forward pass each, no generation."""
    ids = sorted({backend.tokenizer(word, add_special_tokens=False)["input_ids"][0] for word in REFUSAL_OPENINGS})
    probs = backend.logits(prompts, batch_size=batch_size, system_prompt=system_prompt, progress=False).softmax(-1)
    p = probs[:, ids].sum(-1).clamp(1e-8, 1 - 1e-8)
    return (p / (1 - p)).log()


def kl_divergence(base: Float[Tensor, "n vocab"], other: Float[Tensor, "n vocab"]) -> Float[Tensor, " n"]:
    """KL(base || other) of next-token distributions given as logits."""
    log_p, log_q = base.float().log_softmax(-1), other.float().log_softmax(-1)
    return (log_p.exp() * (log_p - log_q)).sum(-1)


@dataclass(frozen=True)
class RefusalDirection:
    """A chosen refusal direction and how it was chosen."""

    direction: Float[Tensor, " d_model"]
    layer: int
    position: int
    harmful_score: float
    harmless_kl: float


def select_refusal_direction(
    backend: Backend,
    harmful: Sequence[str],
    harmless: Sequence[str],
    harmful_val: Sequence[str],
    harmless_val: Sequence[str],
    *,
    positions: Sequence[int] = (-1, -2, -3),
    max_depth: float = 0.8,
    kl_limit: float = 0.1,
    batch_size: int = 16,
) -> RefusalDirection:
    """Difference-in-means candidates (from ``harmful`` and ``harmless``) at each layer and
    post-instruction position; keep the one whose ablation at every layer lowers the refusal score
    of ``harmful_val`` most while the next-token KL on ``harmless_val`` stays under ``kl_limit``."""
    candidates = mean_difference(backend, harmful, harmless, positions=positions, batch_size=batch_size)
    base_logits = backend.logits(harmless_val, batch_size=batch_size, progress=False)
    best: RefusalDirection | None = None
    layers = [layer for layer in range(backend.n_layers) if layer < max_depth * backend.n_layers]
    grid = [(i, layer) for i in range(len(positions)) for layer in layers]
    for i, layer in tqdm(grid, desc="refusal direction", unit="candidate"):
        direction = candidates[i, layer]
        if not bool(torch.isfinite(direction).all()) or float(direction.norm()) < 1e-3 * float(candidates.norm(dim=-1).max()):
            continue  # e.g. layer 0 at a template token: the same embedding for every prompt
        with backend.steer(DirectionalAblation(direction, range(backend.n_layers))):
            kl = float(kl_divergence(base_logits, backend.logits(harmless_val, batch_size=batch_size, progress=False)).mean())
            if not kl <= kl_limit:
                continue
            score = float(refusal_score(backend, harmful_val, batch_size=batch_size).mean())
        if not math.isfinite(score):
            continue
        if best is None or score < best.harmful_score:
            best = RefusalDirection(direction, layer, positions[i], score, kl)
    if best is None:
        raise ValueError(f"No candidate direction kept the harmless KL under {kl_limit}; raise kl_limit.")
    return best
