"""Choosing the baselines' directions: the refusal direction (Arditi et al.) and the false-refusal direction."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from jaxtyping import Float
from torch import Tensor
from tqdm.auto import tqdm

from edshook.backends.base import Backend
from edshook.baselines import DirectionalAblation, mean_difference, orthogonalise
from edshook.data import Part, PromptSet, select_prompts
from edshook.evaluation.metrics import kl_divergence

__all__ = ["Directions", "RefusalDirection", "fit_directions", "refusal_score", "select_refusal_direction"]

REFUSAL_OPENINGS = ("I", "As", "Sorry", "Unfortunately", "I'm")
"""Words a refusal starts with; their first tokens make the refusal score."""


def refusal_score(
    backend: Backend, prompts: Sequence[str], *, system_prompt: str | None = None, batch_size: int = 16
) -> Float[Tensor, " prompt"]:
    """Log-odds that the first answer token opens a refusal, per prompt: one forward pass each, no generation."""
    ids = sorted({backend.tokenizer(word, add_special_tokens=False)["input_ids"][0] for word in REFUSAL_OPENINGS})
    probs = backend.logits(prompts, batch_size=batch_size, system_prompt=system_prompt, progress=False).softmax(-1)
    p = probs[:, ids].sum(-1).clamp(1e-8, 1 - 1e-8)
    return (p / (1 - p)).log()


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
    progress: bool = True,
) -> RefusalDirection:
    """Difference-in-means candidates (from ``harmful`` and ``harmless``) at each layer and
    post-instruction position; keep the one whose ablation at every layer lowers the refusal score
    of ``harmful_val`` most while the next-token KL on ``harmless_val`` stays under ``kl_limit``."""
    candidates = mean_difference(backend, harmful, harmless, positions=positions, batch_size=batch_size)
    base_logits = backend.logits(harmless_val, batch_size=batch_size, progress=False)
    best: RefusalDirection | None = None
    layers = [layer for layer in range(backend.n_layers) if layer < max_depth * backend.n_layers]
    grid = [(i, layer) for i in range(len(positions)) for layer in layers]
    for i, layer in tqdm(grid, desc="refusal direction", unit="candidate", disable=not progress):
        direction = candidates[i, layer]
        if not bool(torch.isfinite(direction).all()) or float(direction.norm()) < 1e-3 * float(
            candidates.norm(dim=-1).max()
        ):
            continue  # e.g. layer 0 at a template token: the same embedding for every prompt
        with backend.steer(DirectionalAblation(direction, range(backend.n_layers))):
            kl = float(
                kl_divergence(base_logits, backend.logits(harmless_val, batch_size=batch_size, progress=False)).mean()
            )
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


@dataclass(frozen=True)
class Directions:
    """The refusal direction and the false-refusal direction orthogonal to it."""

    refusal: RefusalDirection
    false_refusal: Float[Tensor, " d_model"]


def fit_directions(
    backend: Backend, data_dir: str | os.PathLike[str] | None, *, n: int = 64, seed: int = 0, progress: bool = True
) -> Directions:
    """Directions from the standard train part (means) and val part (selection); never from test."""

    def texts(part: Part, sources: Sequence[str], count: int) -> list[str]:
        chosen = select_prompts(split=part, sets=sources, seed=seed, data_dir=data_dir)
        return list(PromptSet.concat(part, list(chosen.values())).sample(count, seed).texts)

    harmful_sources = ("advbench", "refusal_harmful_train")
    harmless_sources = ("refusal_harmless_train",)
    refusal = select_refusal_direction(
        backend,
        texts("train", harmful_sources, n),
        texts("train", harmless_sources, n),
        texts("val", harmful_sources, n // 2),
        texts("val", harmless_sources, n // 2),
        progress=progress,
    )
    pseudo_harmful = texts("train", ("or_bench_hard",), n)
    false_refusal = mean_difference(
        backend, pseudo_harmful, texts("train", harmless_sources, n), positions=(refusal.position,)
    )[0, refusal.layer]
    return Directions(refusal, orthogonalise(false_refusal, refusal.direction))
