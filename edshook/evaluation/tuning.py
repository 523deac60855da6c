"""Choosing a conditional policy's probe threshold on validation prompts, from one set of generations."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch
from jaxtyping import Bool, Float
from torch import Tensor
from tqdm.auto import tqdm

from edshook.backends.base import Backend
from edshook.data.prompts import PromptSet
from edshook.errors import DataError
from edshook.evaluation.harness import set_kind
from edshook.interventions import ConditionalSteering
from edshook.judges import Judge

__all__ = ["DEFAULT_THRESHOLDS", "ThresholdTuning", "choose_threshold", "tune_threshold"]

DEFAULT_THRESHOLDS = (0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 0.99)


@dataclass(frozen=True)
class ThresholdTuning:
    """The chosen threshold and the validation figures of every candidate.

    Attributes:
        threshold: The chosen probe threshold.
        feasible: False when no candidate kept every harmful set's refusal ``margin`` above base
            (the lowest candidate, the safest, is chosen then).
        base: The unsteered model's rate on each set (compliance or refusal, by the set's kind).
        table: One row per candidate: ``{"threshold": t, set name: rate, ...}``.
        margin: Required refusal gain over base on every harmful set.
    """

    threshold: float
    feasible: bool
    base: dict[str, float]
    table: list[dict[str, float]]
    margin: float

    def to_json(self) -> dict:
        return {"threshold": self.threshold, "feasible": self.feasible, "margin": self.margin, "base": self.base, "table": self.table}

    def markdown(self) -> str:
        """The candidates as a table (rates in %), the chosen one in bold."""
        names = list(self.base)
        rows = ["| threshold | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
        rows.append("| base model | " + " | ".join(f"{100 * self.base[n]:.1f}" for n in names) + " |")
        for row in self.table:
            cells = [f"{row['threshold']:g}"] + [f"{100 * row[n]:.1f}" for n in names]
            if row["threshold"] == self.threshold:
                cells = [f"**{cell}**" for cell in cells]
            rows.append("| " + " | ".join(cells) + " |")
        return "\n".join(rows)


def tune_threshold(
    backend: Backend,
    policy: ConditionalSteering,
    sets: Mapping[str, PromptSet],
    judge: Judge,
    *,
    thresholds: Sequence[float] = DEFAULT_THRESHOLDS,
    margin: float = 0.1,
    max_new_tokens: int = 24,
    batch_size: int = 32,
    progress: bool = True,
) -> ThresholdTuning:
    """The threshold with the best mean compliance on the benign sets among those whose refusal on
    every harmful set is at least the base model's plus ``margin`` (at most 100%).

    Each prompt is answered three times (base, steered as benign, steered as harmful) and its probe
    score read once; any threshold's outcome is then a choice between the two steered answers, so
    the whole grid costs three generations per prompt. Use validation prompts, never test prompts.
    """
    if not sets:
        raise DataError("tune_threshold needs at least one benign and one harmful validation set.")
    kinds = {name: set_kind(prompts) for name, prompts in sets.items()}
    if set(kinds.values()) != {"compliance", "refusal"}:
        raise DataError(f"tune_threshold needs benign and harmful sets; got only {sorted(set(kinds.values()))} sets.")
    texts = {name: list(prompts.texts) for name, prompts in sets.items()}
    routes = {"base": None, "benign": policy.benign, "harmful": policy.harmful}
    scores: dict[str, Tensor] = {}
    outcomes: dict[str, dict[str, Tensor]] = {name: {} for name in sets}
    with tqdm(total=len(sets) * len(routes), desc="tune threshold", unit="run", disable=not progress) as bar:
        for name, prompts in texts.items():
            states = backend.collect(prompts, [policy.probe.layer], batch_size=batch_size, progress=False)[:, 0]
            scores[name] = policy.probe.probability(states)
            for route, steering in routes.items():
                answers = _answers(backend, prompts, steering, max_new_tokens, batch_size)
                outcomes[name][route] = torch.tensor(judge(answers, prompts))
                bar.update()

    return choose_threshold(scores, outcomes, kinds, thresholds=thresholds, margin=margin)


def choose_threshold(
    scores: Mapping[str, Float[Tensor, " n"]],
    outcomes: Mapping[str, Mapping[str, Bool[Tensor, " n"]]],
    kinds: Mapping[str, str],
    *,
    thresholds: Sequence[float] = DEFAULT_THRESHOLDS,
    margin: float = 0.1,
) -> ThresholdTuning:
    """The selection rule of :func:`tune_threshold`, on probe scores and refusals already in hand.

    ``outcomes[set][route]`` says which prompts were refused for each route (``"base"``,
    ``"benign"``, ``"harmful"``); ``kinds[set]`` is ``"compliance"`` or ``"refusal"``.
    """

    def rates(refusals: Mapping[str, Tensor]) -> dict[str, float]:
        refused = {name: refusals[name].float().mean().item() for name in kinds}
        return {name: round(1 - r if kinds[name] == "compliance" else r, 4) for name, r in refused.items()}

    base = rates({name: outcomes[name]["base"] for name in kinds})
    table = []
    for t in sorted(thresholds):
        routed = {name: torch.where(scores[name] > t, outcomes[name]["harmful"], outcomes[name]["benign"]) for name in kinds}
        table.append({"threshold": t, **rates(routed)})

    def safe(row: Mapping[str, float]) -> bool:
        # A base model already near 100% refusal cannot gain the whole margin: ask for 100% then.
        return all(row[name] >= min(base[name] + margin, 1.0) - 1e-9 for name, kind in kinds.items() if kind == "refusal")

    def compliance(row: Mapping[str, float]) -> float:
        return sum(row[name] for name, kind in kinds.items() if kind == "compliance")

    feasible = [row for row in table if safe(row)]
    if feasible:
        chosen = max(feasible, key=lambda row: (compliance(row), -row["threshold"]))
    else:
        chosen = table[0]
        warnings.warn(
            f"No probe threshold kept every harmful set's refusal {margin:.2f} above base; choosing the lowest, "
            f"{chosen['threshold']}. Steering is weak on harmful prompts: train the harmful energy on more prompts.",
            RuntimeWarning,
            stacklevel=2,
        )
    return ThresholdTuning(chosen["threshold"], bool(feasible), base, table, margin)


def _answers(backend: Backend, prompts: list[str], steering, max_new_tokens: int, batch_size: int) -> list[str]:
    if steering is None:
        return backend.generate(prompts, max_new_tokens=max_new_tokens, batch_size=batch_size, progress=False)
    with backend.steer(steering):
        return backend.generate(prompts, max_new_tokens=max_new_tokens, batch_size=batch_size, progress=False)
