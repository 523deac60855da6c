"""The standard comparison: the baselines fitted on training data, the EDS sweeps, one report."""

from __future__ import annotations

import os
import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from edshook.backends.base import Backend
from edshook.data import PromptSet, load_set
from edshook.evaluation.directions import fit_directions
from edshook.evaluation.harness import Capability, MethodResult, evaluate
from edshook.evaluation.methods import (
    DIRECTION_METHODS,
    Method,
    Sweep,
    SweepGrids,
    baseline_methods,
    conditional_methods,
    eds_methods,
)
from edshook.evaluation.plots import plot_report
from edshook.evaluation.reports import safe_summary, write_report
from edshook.interventions import ConditionalSteering, EnergySteering
from edshook.judges.reader import AnswerJudge

__all__ = ["Comparison", "compare", "comparison_methods", "harmless_capability"]


def harmless_capability(
    backend: Backend,
    data_dir: str | os.PathLike[str] | None,
    n: int,
    *,
    max_new_tokens: int,
    batch_size: int,
    seed: int = 0,
) -> Capability:
    """The base model on ``n`` harmless prompts (refusal_direction's harmless test split), for KL and perplexity."""
    prompts = list(load_set("refusal_harmless_test", data_dir).sample(n, seed).texts)
    return Capability.measure(backend, prompts, max_new_tokens=max_new_tokens, batch_size=batch_size)


@dataclass(frozen=True)
class Comparison:
    """Every method's results on the same sets, and what was run."""

    results: list[MethodResult]
    header: dict[str, Any]

    @property
    def summary(self) -> dict[str, dict[str, Any]]:
        return safe_summary(self.results)

    def save(self, out: Path) -> dict[str, Any]:
        """``report.json``, ``report.md``, ``answers.jsonl`` and ``tradeoff.png`` in ``out``; returns the report."""
        report = write_report(self.results, out, header={**self.header, "summary": self.summary})
        self.plot(report, out / "tradeoff.png")
        return report

    def plot(self, report: dict[str, Any], path: Path) -> Path | None:
        """The trade-off plot of a report of this comparison (None without both benign and harmful sets)."""
        return plot_report(report["methods"], path)


def comparison_methods(
    backend: Backend,
    policy: EnergySteering | ConditionalSteering,
    *,
    data_dir: str | os.PathLike[str] | None,
    reference: EnergySteering | None = None,
    grids: SweepGrids = SweepGrids(),
    only: Collection[str] | None = None,
    progress: bool = True,
) -> list[Method]:
    """Baselines (directions fitted on the standard train and val parts), then the EDS methods.

    A conditional ``policy`` is swept over ``grids.probe_thresholds`` and also run as it is, with its
    ablations; a single-energy policy (``policy``, or ``reference`` beside a conditional one) over
    step size, plain and energy-gated. The refusal directions, minutes of forward passes on a large
    model, are fitted only when ``only`` (the method names wanted; all when ``None``) needs them.
    """
    needs_directions = only is None or not set(only).isdisjoint(DIRECTION_METHODS)
    directions = fit_directions(backend, data_dir, progress=progress) if needs_directions else None
    methods = baseline_methods(directions, backend.n_layers, grids)
    single = policy if isinstance(policy, EnergySteering) else reference
    if single is not None:
        methods += eds_methods(single, grids) + eds_methods(single, grids, gated=True)
    if isinstance(policy, ConditionalSteering):
        own = Method("eds_default", (policy,), sweep=Sweep("probe_threshold", policy.harmful_above))
        methods += [own, *conditional_methods(policy, grids.probe_thresholds)]
    return methods


def compare(
    backend: Backend,
    methods: list[Method],
    sets: Mapping[str, PromptSet],
    judge: AnswerJudge,
    *,
    data_dir: str | os.PathLike[str] | None,
    only: Collection[str] | None = None,
    harmless: int = 48,
    max_new_tokens: int = 96,
    batch_size: int = 32,
    header: Mapping[str, object] | None = None,
    progress: bool = True,
) -> Comparison:
    """Run ``methods`` (those named in ``only``, if given) over ``sets`` with the same judges and capability checks."""
    started = time.perf_counter()
    if only is not None:
        unknown = set(only) - {method.name for method in methods}
        if unknown:
            raise ValueError(f"No method named {sorted(unknown)}; choose from {sorted({m.name for m in methods})}.")
        methods = [method for method in methods if method.name in only]
    capability = harmless_capability(backend, data_dir, harmless, max_new_tokens=max_new_tokens, batch_size=batch_size)
    results = []
    for method in tqdm(methods, desc="compare", unit="method", disable=not progress):
        results.append(
            evaluate(
                backend,
                method,
                sets,
                judge,
                capability=capability,
                answer_perplexity=judge.model is not None,
                max_new_tokens=max_new_tokens,
                batch_size=batch_size,
            )
        )
    info = {
        **(header or {}),
        **judge.describe(),
        "max_new_tokens": max_new_tokens,
        "harmless_prompts": len(capability.prompts),
        "wall_seconds": round(time.perf_counter() - started, 1),
    }
    return Comparison(results, info)
